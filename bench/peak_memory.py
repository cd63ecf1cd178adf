"""Peak resident memory of this process on Linux, for the benchmarks: read from /proc, resettable between steps."""


def status_kb(key: str) -> int | None:
    "A `/proc/self/status` field in kB (`VmRSS`: now, `VmHWM`: the peak), or None where there is no /proc."
    try:
        with open('/proc/self/status') as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ':'))
    except (OSError, StopIteration):
        return None


def reset_peak() -> bool:
    "Reset the peak (`VmHWM`) to the current resident size (Linux >= 4.0); False where that is not possible."
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False
