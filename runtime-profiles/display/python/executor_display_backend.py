# A matplotlib backend that shows figures as display entries (docs/display.md). The runtime
# profile names it (its `display` section: MPLBACKEND=module://executor_display_backend, this
# folder on PYTHONPATH). Figures are drawn with Agg; plt.show() sends every open figure as an
# image/png display and closes it: in a session cell through the kernel, in a plain run as a
# display frame on stdout, where the executor takes it out in its place among the output.
import base64
import io
import os
import sys

from matplotlib.backend_bases import FigureManagerBase as FigureManager  # noqa: F401
from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas  # noqa: F401

# Read once, when matplotlib loads the backend: the snippet may clear its environment later.
_TOKEN = os.environ.get("SANDBOX_DISPLAY_TOKEN", "")


def show(*args, **kwargs):
    kernel = sys.modules.get("executor_kernel")
    if kernel is not None:
        kernel.show_figures()
        return
    if not _TOKEN:
        # Not in a run that takes displays: as Agg does, show nothing and keep the figures.
        return
    import matplotlib.pyplot as plt

    for num in list(plt.get_fignums()):
        fig = plt.figure(num)
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png")
            _frame([("image/png", buf.getvalue()), ("text/plain", repr(fig).encode())])
        finally:
            plt.close(fig)


def _frame(representations):
    # What was printed before the figure is written first, so it stays before it.
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    body = " ".join("%s %s" % (mime, base64.b64encode(data).decode()) for mime, data in representations)
    data = ("\x1f%s:display %s\x1f" % (_TOKEN, body)).encode()
    while data:
        data = data[os.write(1, data):]
