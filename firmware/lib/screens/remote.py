"""The concentrator's display COMMANDs (docs/display.md §5; codes in smitp/commands.py).

  0x20 display_special        DURATION_S(2, 1..3600) TEXT(16, printable ASCII, space padded)
  0x21 display_special_clear  (no argument)
  0x22 display_sw_id          (no argument): the software identification screens now
Each fn(meter, args) -> 0 or a NACK code; the AL checked the write key and the length.
"""

from datamodel import events
from datamodel.model import E_NOT_SUPPORTED, E_VALUE, OK
from datamodel.values import ASCII, check

from screens.manager import SPECIAL_MAX_S


def special(m, a):
    mgr = getattr(m, "display_mgr", None)
    if mgr is None:
        return E_NOT_SUPPORTED
    seconds = a[0] << 8 | a[1]
    text = bytes(a[2:])
    if not 1 <= seconds <= SPECIAL_MAX_S or not check(ASCII, 16, None, text):
        return E_VALUE
    mgr.special_show(text, seconds)
    m.model.log(events.DISPLAY_SPECIAL, seconds)
    return OK


def _call(m, method, event):
    mgr = getattr(m, "display_mgr", None)
    if mgr is None:
        return E_NOT_SUPPORTED
    getattr(mgr, method)()
    if event:
        m.model.log(event)
    return OK


def special_clear(m, a):
    return _call(m, "special_clear", events.DISPLAY_SPECIAL_CLEARED)


def sw_id(m, a):
    return _call(m, "show_sw_id", 0)
