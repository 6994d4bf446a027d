"""The thermostat core: programs, schedule, target resolution and control.

Pure code: functions of state and time, no I/O and no wall clock.
"""
