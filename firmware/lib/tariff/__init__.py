"""Calendar, tariffs and billing (docs/tariffs.md): attach(meter) builds meter.tariffs."""

from tariff.billing import Billing
from tariff.tariffs import Tariffs


def attach(meter):
    """meter.tariffs (Seam C) and meter.billing, both driven by meter.on_second; no task."""
    meter.tariffs = Tariffs(meter.model)
    meter.billing = Billing(meter, meter.tariffs)
    meter.on_second.append(meter.tariffs.on_second)
    meter.on_second.append(meter.billing.on_second)
    meter.savers.append(meter.billing.save)
    return []
