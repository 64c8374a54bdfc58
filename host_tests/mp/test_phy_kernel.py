"""phy.kernel: the one selector of the asm_thumb / viper kernels, and its loud failure path."""

import unittest

from phy import kernel, selftest
from phy.kern_viper import mix as mix_viper


def _broken():
    raise ImportError("no module named 'phy.rx_thumb'")


def _fake_thumb():
    return ("mix-thumb", "acs-thumb", "sym-thumb")


class TestKernelSelector(unittest.TestCase):
    def tearDown(self):
        kernel.select(kernel.ASM_REQUIRED)  # what the import selected on this port

    def test_unix_port_needs_no_asm(self):
        self.assertFalse(kernel.ASM_REQUIRED)
        self.assertEqual(kernel.KIND, "viper")
        self.assertIsNone(kernel.FAULT)
        self.assertIs(kernel.mix, mix_viper)
        self.assertIsNone(kernel.acs)
        self.assertIsNone(kernel.sym)

    def test_asm_loaded(self):
        logged = []
        self.assertIsNone(kernel.select(True, _fake_thumb, logged.append))
        self.assertEqual(kernel.KIND, "thumb")
        self.assertEqual((kernel.mix, kernel.acs, kernel.sym), _fake_thumb())
        self.assertEqual(logged, [])

    def test_asm_required_but_missing_fails_loudly(self):
        logged = []
        fault = kernel.select(True, _broken, logged.append)
        self.assertEqual(fault, "ImportError: no module named 'phy.rx_thumb' (phy.kernel)")
        self.assertEqual(kernel.FAULT, fault)
        self.assertEqual(kernel.KIND, "viper")
        self.assertIs(kernel.mix, mix_viper)  # still receives, with the viper kernels
        self.assertEqual(len(logged), 1)
        self.assertTrue(logged[0].startswith("phy.kernel: FAULT"))
        self.assertTrue(fault in logged[0])
        self.assertFalse(selftest.run(verbose=False))
        kernel.select(False)
        self.assertTrue(selftest.run(verbose=False))

    def test_real_loader_on_unix_fails(self):
        # the unix port has no asm_thumb emitter: asking for the asm kernels must record a fault
        logged = []
        self.assertIsNotNone(kernel.select(True, log=logged.append))
        self.assertEqual(len(logged), 1)

    def test_softphy_reports_the_fault(self):
        from phy.softphy import SoftPhy

        class Cap:
            sample_rate = 38400

        class Mod:
            sample_rate = 345600

        phy = SoftPhy(Cap(), Mod())
        self.assertIsNone(phy.kernel_fault)
        kernel.select(True, _broken, lambda s: None)
        self.assertTrue(phy.kernel_fault.startswith("ImportError"))


if __name__ == "__main__":
    unittest.main()
