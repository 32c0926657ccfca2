# A matplotlib backend for session cells (MPLBACKEND=module://executor_display_backend): figures
# are drawn with Agg, and plt.show() sends every open figure to the cell as an image/png display.
from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas  # noqa: F401
from matplotlib.backend_bases import FigureManagerBase as FigureManager  # noqa: F401


def show(*args, **kwargs):
    import executor_kernel

    executor_kernel.show_figures()
