"""Select the per-sample kernel at import: asm_thumb on stm32-class ports, else the viper one."""

import sys

KIND = "viper"
if sys.platform in ("pyboard", "stm32"):
    try:
        from phy.kern_thumb import mix

        KIND = "thumb"
    except (ImportError, SyntaxError, ValueError):
        from phy.kern_viper import mix
else:
    from phy.kern_viper import mix

__all__ = ("mix", "KIND")
