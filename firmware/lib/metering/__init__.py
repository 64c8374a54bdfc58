"""The meter's metering: energy registers, power quality, power failure (docs/metering.md)."""
