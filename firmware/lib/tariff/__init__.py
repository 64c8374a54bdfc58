"""Calendar, tariffs and billing (docs/tariffs.md): attach(meter) builds meter.tariffs."""

from tariff.tariffs import Tariffs


def attach(meter):
    meter.tariffs = Tariffs(meter.model)
    meter.on_second.append(meter.tariffs.on_second)
    return []
