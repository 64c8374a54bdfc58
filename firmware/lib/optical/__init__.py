"""The optical port: IEC 62056-21 meter side (engine `iec21`, readout list, register access,
asyncio task `port`). docs/optical.md is the specification."""
