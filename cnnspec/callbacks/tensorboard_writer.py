"""TensorBoard's event writer, made harmless: a failure warns once, and training goes on.

Logging must never cost a run: any failure (disk full, the directory removed
under a running job) warns once, and training goes on. The writer is
reopened at the next epoch boundary (:meth:`GuardedWriter.check_dir`), so
logging resumes when the problem goes away. TensorBoard's writer fails in a
background thread; that thread's traceback is kept off the console (the one
warning says it all).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["GuardedWriter"]


class GuardedWriter:
    """A ``SummaryWriter`` into ``log_dir`` whose failures warn (once) instead of raising.

    ``purge_step`` is given to the first writer opened: events at and after
    it are dropped (a resumed run redoes them).
    """

    def __init__(self, log_dir: Path, *, flush_secs: float = 30.0, purge_step: int | None = None) -> None:
        self.log_dir = log_dir
        self.flush_secs = flush_secs
        self.writer: SummaryWriter | None = None
        self.failed = False
        self._warned = False
        self._purge_step = purge_step
        self._hooks: tuple[Any, Any] | None = None

    @property
    def active(self) -> bool:
        """Whether events are being written right now."""
        return self.writer is not None

    def open(self) -> None:
        """Start (or restart) writing; a failure warns and leaves the writer closed."""
        from torch.utils.tensorboard import SummaryWriter

        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=self._purge_step,
                                        flush_secs=self.flush_secs)
        except Exception as exc:
            self.fail("cannot open the log directory", exc)
            return
        self._purge_step = None

    def fail(self, what: str, exc: BaseException) -> None:
        """Warn (the first time only), drop the writer, and let training continue."""
        self.failed = True
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"TensorBoard logging to {self.log_dir} failed ({what}: {type(exc).__name__}: {exc}); "
                "training continues, and logging resumes at the next epoch if the problem goes away",
                RuntimeWarning, stacklevel=3)

    def write(self, method: str, *args: Any, **kwargs: Any) -> bool:
        """``writer.<method>(*args)``, turning any failure into :meth:`fail`; False when not written."""
        if self.writer is None:
            return False
        try:
            getattr(self.writer, method)(*args, **kwargs)
        except Exception as exc:
            tag = args[0] if args and isinstance(args[0], str) else ""
            self.fail(f"{method}({tag})" if tag else method, exc)
            return False
        return True

    def broken(self) -> bool:
        """Whether the writer itself fails (rather than what was handed to it)."""
        try:
            self.writer.flush()  # type: ignore[union-attr]
        except Exception:
            return True
        return False

    def check_dir(self) -> None:
        """A removed directory leaves the open file writable but unlinked: detect it, reopen."""
        if self.writer is not None and not self.log_dir.is_dir():
            self.fail("the log directory was removed", FileNotFoundError(str(self.log_dir)))
        if self.writer is None:
            self.open()

    def quiet_threads(self) -> None:
        """Keep the event writer thread's traceback off stderr; its error reaches us on the next write."""
        import threading

        previous = threading.excepthook

        def hook(args: Any) -> None:
            if type(args.thread).__module__.startswith("tensorboard.summary.writer"):
                return
            previous(args)

        threading.excepthook = hook
        self._hooks = (hook, previous)

    def close(self) -> None:
        """Close the writer and put back the thread hook; a failure here warns too (once)."""
        if self._hooks is not None:
            import threading

            hook, previous = self._hooks
            if threading.excepthook is hook:
                threading.excepthook = previous
            self._hooks = None
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception as exc:
                if not self._warned:
                    self._warned = True
                    warnings.warn(f"TensorBoard logging to {self.log_dir} failed when closing "
                                  f"({type(exc).__name__}: {exc})", RuntimeWarning, stacklevel=3)
