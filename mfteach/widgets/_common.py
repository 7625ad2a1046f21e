"""Helpers shared by the explorers (private to ``mfteach.widgets``): one-update output, HTML
escaping and bars, the user/movie pickers, progress bars and grid look-ups. The explorers import
this module; ``mfteach/widgets/__init__.py`` only re-exports (ARCHITECTURE.md, "Widgets")."""

from IPython.core.interactiveshell import InteractiveShell

from ..plots import SIGN_COLORS  # importing plots also sets the colour cycle of every explorer figure

__all__ = ["show_outputs", "show_error", "guarded", "escape_html", "influence_bar", "user_item_repr", "type_ahead", "progress_bar",
           "user_item_pickers", "redraw_on_change", "grid_index", "SIGN_COLORS"]


def show_outputs(out, *objects) -> None:
    """Replace the content of the ``ipywidgets.Output`` ``out`` with ``objects`` in ONE update.

    Each object (an ``IPython.display.Image``/``HTML``, a DataFrame, ...) is formatted
    exactly as ``out.append_display_data`` would format it. Why not ``out.clear_output(wait=True)``
    followed by ``append_display_data``: ``clear_output`` only sends a message to a front end
    inside a running kernel (in plain Python it prints terminal escape codes), and it never
    empties the ``outputs`` tuple that ``append_display_data`` extends, so without a front end
    syncing back the old views pile up. Assigning ``out.outputs`` behaves the same in a kernel
    and in tests, and the front end swaps the whole content at once (no flicker).
    """
    fmt = InteractiveShell.instance().display_formatter.format
    outputs = []
    for obj in objects:
        data, metadata = fmt(obj)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    out.outputs = tuple(outputs)


def show_error(out, error: BaseException) -> None:
    """Show ``error`` in ``out`` (in one update): its type and message in a line of the palette's vermillion, the
    traceback folded below, as ipywidgets' ``interact`` shows the errors of its function."""
    import traceback

    from IPython.display import HTML

    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    show_outputs(out, HTML(
        f"<div class='mfteach-error' style='color:#D55E00'><b>{escape_html(type(error).__name__)}</b>: "
        f"{escape_html(error)}</div><details><summary>traceback</summary><pre>{escape_html(trace)}</pre></details>"))


class guarded:
    """``with guarded(out, *controls, busy={button: "retraining…"}):`` around a widget callback.

    While the block runs the ``controls`` are disabled (and the widgets in ``busy`` show their
    busy description); afterwards every control gets back its state and description, whatever
    happened. An exception raised in the block is shown in the ``Output`` ``out`` with
    ``show_error`` instead of being lost in the kernel's log, and does not propagate (a widget
    callback has nobody to propagate to). ``guarded(out).error`` is the exception, or None."""

    def __init__(self, out, *controls, busy=None):
        self.out, self.busy = out, dict(busy or {})
        self.controls = list(dict.fromkeys([*controls, *self.busy]))  # each once, in order
        self.error = None

    def __enter__(self):
        self.saved = [(c, c.disabled, getattr(c, "description", None)) for c in self.controls]
        for control in self.controls:
            control.disabled = True
        for control, label in self.busy.items():
            control.description = label
        return self

    def __exit__(self, kind, error, trace):
        for control, disabled, description in self.saved:
            control.disabled = disabled
            if control in self.busy:
                control.description = description
        if error is not None and isinstance(error, Exception):
            self.error = error
            show_error(self.out, error)
            return True  # handled: shown to the learner
        return False


def escape_html(text) -> str:
    """``text`` (any object, as ``str``) safe inside HTML: &, < and > escaped (titles such as
    "Rock & Roll" or "<unknown>" appear as written)."""
    import html

    return html.escape(str(text), quote=False)


def influence_bar(value: float, scale: float, half_width: int = 50, height: int = 9) -> str:
    """A diverging HTML bar for a table cell: ``|value| / scale`` of ``half_width`` pixels, blue to
    the right of the centre when ``value >= 0``, orange to the left when it is negative
    (``plots.SIGN_COLORS``: the side carries the sign too, not the colour alone)."""
    width = 0 if scale <= 0 else int(round(half_width * abs(value) / scale))
    color = SIGN_COLORS[0] if value >= 0 else SIGN_COLORS[1]
    bar = f"<div style='display:inline-block; width:{width}px; height:{height}px; background:{color}'></div>"
    left, right = (bar, "") if value < 0 else ("", bar)
    return (f"<div style='display:inline-block; width:{half_width}px; text-align:right'>{left}</div>"
            f"<div style='display:inline-block; width:{half_width}px'>{right}</div>")


def user_item_repr(box) -> str:
    """Short, deterministic text repr of an explorer box with ``user`` and ``item`` controls,
    such as ``FiaExplorer(user=3, item='Star Wars (1977)', n_top=5)`` (nbval compares it)."""
    name = type(box).__name__
    user, item = getattr(box, "user", None), getattr(box, "item", None)
    if user is None or item is None:  # not built yet
        return f"{name}()"
    label = box.ratings.item_labels([item.value])[0] if item.value is not None else None
    return f"{name}(user={user.value}, item={str(label)!r}, n_top={box.n_top})"


def type_ahead(dropdown, placeholder: str = "type to find, then Enter", width: str = "300px"):
    """A keyboard way into a long ``Dropdown``: a ``Combobox`` with the dropdown's labels that offers
    matches as you type; Enter (or leaving the box) on a full label picks that option in the
    dropdown. (A closed Dropdown in JupyterLab 4 ignores the arrow keys, ipywidgets#3912.) The box
    follows the dropdown when its options change."""
    import ipywidgets as widgets

    box = widgets.Combobox(options=[label for label, _ in dropdown.options], placeholder=placeholder,
                           ensure_option=True, continuous_update=False, layout=widgets.Layout(width=width))
    box.add_class("mfteach-type-ahead")

    def pick(change):
        chosen = dict(dropdown.options).get(change["new"])
        if chosen is not None and chosen != dropdown.value:
            dropdown.value = chosen

    def follow(change):
        box.options = [label for label, _ in dropdown.options]

    box.observe(pick, names="value")
    dropdown.observe(follow, names="options")
    return box


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(show: bool, total: int, desc: str):
    """A tqdm bar over ``total`` fits when ``show`` (a widget in a notebook), else one that does nothing."""
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="fit")


def user_item_pickers(offered, user, item, shape, item_options, width: str = "640px", label_width: str = "60px"):
    """The (user slider, movie dropdown) pair of an explorer of one prediction, checked.

    ``offered``: the users on the slider; ``user`` (default: the first offered) and ``item``
    (default: the first option) are the start, checked against ``shape`` = (m, n).
    ``item_options(user, extra)`` gives the dropdown's (label, item) pairs for a user, with the
    movie ``extra`` among them when it is not None. Wire them with ``redraw_on_change``."""
    import ipywidgets as widgets
    import numpy as np

    from ..base import check_index

    m, n = shape
    offered = np.asarray(offered, dtype=np.int64)
    if offered.size == 0:
        raise ValueError("no user to offer")
    user = int(offered[0]) if user is None else check_index("user", user, m, "row")
    if user not in set(offered.tolist()):
        raise ValueError(f"user {user} is not among the users offered")
    if item is not None:
        item = check_index("item", item, n, "column")
    style = {"description_width": label_width}
    user_slider = widgets.SelectionSlider(options=[(str(u), int(u)) for u in offered], value=user,
                                          description="user", continuous_update=False,
                                          layout=widgets.Layout(width=width), style=style)
    options = item_options(user, item)
    item_picker = widgets.Dropdown(options=options, value=options[0][1] if item is None else item,
                                   description="movie", layout=widgets.Layout(width=width), style=style)
    return user_slider, item_picker


def redraw_on_change(user_slider, item_picker, item_options, redraw) -> None:
    """Call ``redraw()`` once per change: a new movie redraws; a new user first refills the
    dropdown with ``item_options(user)`` and selects its first movie (one redraw, not two)."""
    swapping = [False]  # True while the dropdown's options are replaced

    def on_item(_change=None):
        if not swapping[0] and item_picker.value is not None:
            redraw()

    def on_user(_change=None):
        swapping[0] = True
        try:
            item_picker.options = item_options(user_slider.value)
            item_picker.value = item_picker.options[0][1]
        finally:
            swapping[0] = False
        on_item()

    user_slider.observe(on_user, names="value")
    item_picker.observe(on_item, names="value")


def grid_index(values, value, name: str) -> int:
    """Position of ``value`` in a precomputed grid of hyperparameters ``values`` (a clear
    ValueError listing the grid when it is not there)."""
    import numpy as np

    hits = np.flatnonzero(np.isclose(values, float(value), rtol=1e-9, atol=0.0))
    if hits.size == 0:
        shown = ", ".join(f"{v:g}" for v in values)
        raise ValueError(f"{name}={value!r} is not on the grid; choose one of {shown}")
    return int(hits[0])


class FigurePng:
    """A figure an explorer keeps for its whole life, turned into PNG bytes fast on every change.

    ``FigurePng(fig, moving=(artists...), dpi=90)``: the figure's still parts (axes boxes, ticks,
    labels, legends, titles) are drawn once into a background; each ``png(key)`` restores the
    background and draws only the ``moving`` artists on it (lines, bars, markers: they are marked
    animated, so a full draw leaves them out), then encodes the pixels at a fast zlib level.
    ``key`` names the state of the still parts (e.g. the axis limits, rounded, when a change may
    move them): one background is kept per key, the last ``n_backgrounds`` of them, and a new key
    costs one full draw. Pass the same key (or the default None) while nothing still changed.
    Without moving artists every ``png()`` is one full draw. Unlike ``savefig`` there is no
    re-layout at another dpi and no bounding-box pass: the figure gets an Agg canvas at the PNG's
    dpi. (Blitting, as in matplotlib's "Faster rendering by using blitting", to a PNG.)"""

    def __init__(self, fig, moving=(), dpi: int = 90, compress_level: int = 1, n_backgrounds: int = 16):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        fig.set_dpi(dpi)
        self.fig, self.compress_level, self.n_backgrounds = fig, int(compress_level), int(n_backgrounds)
        self.moving = list(moving)
        for artist in self.moving:
            artist.set_animated(True)
        self._backgrounds: dict = {}  # key -> saved pixels of the still parts, oldest first
        self.full_draws = 0  # how many full draws ``png`` made (tests and benchmarks read it)

    def png(self, key=None) -> bytes:
        """The figure now, as PNG bytes; ``key``: the state of its still parts (see the class)."""
        canvas = self.fig.canvas
        background = self._backgrounds.pop(key, None) if self.moving else None
        if background is None:
            canvas.draw()
            self.full_draws += 1
            if self.moving:
                background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(background)
        if self.moving:
            self._backgrounds[key] = background  # most recent last
            while len(self._backgrounds) > self.n_backgrounds:
                self._backgrounds.pop(next(iter(self._backgrounds)))
            renderer = canvas.get_renderer()
            for artist in self.moving:
                if artist.get_visible():
                    artist.draw(renderer)
        return _png_rgb(canvas.buffer_rgba(), self.compress_level)


def _png_rgb(rgba, compress_level: int = 1) -> bytes:
    """PNG bytes of an (h, w, 4) uint8 RGBA buffer, opaque (alpha dropped): 8-bit RGB, each row with
    the PNG "Up" filter (its difference to the row above, one vectorized subtraction), zlib at
    ``compress_level``. Lossless, and about twice as fast as Pillow's adaptive filtering (PNG
    specification, sections 6 and 9)."""
    import struct
    import zlib

    import numpy as np

    pixels = np.asarray(rgba)
    height, width = pixels.shape[:2]
    filtered = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    filtered[:, 0] = 2  # filter type 2, "Up"
    # the RGB bytes of each filtered row, as an (h, w, 3) view: no copy of the image
    body = np.ndarray((height, width, 3), dtype=np.uint8, buffer=filtered, offset=1, strides=(1 + 3 * width, 3, 1))
    body[0] = pixels[0, :, :3]
    np.subtract(pixels[1:, :, :3], pixels[:-1, :, :3], out=body[1:])  # modulo 256, as the filter is defined

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, filters, no interlace
    data = zlib.compress(filtered.tobytes(), compress_level)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def nice_limits(lo: float, hi: float, step: float) -> tuple[float, float]:
    """(lo, hi) widened outwards to multiples of ``step``: axis limits that stay put while the data
    moves a little, so an explorer's ticks (a ``FigurePng`` key) need not be redrawn every time."""
    import math

    return step * math.floor(lo / step), step * math.ceil(hi / step)


__all__ += ["FigurePng", "nice_limits"]


def nice_log_limits(low: float, high: float) -> tuple:
    """Limits of a log axis widened outwards to whole decades: the axis (a ``FigurePng`` key)
    stays put until the data cross a decade."""
    import math

    low, high = max(float(low), 1e-300), max(float(high), 1e-300)
    return 10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high) - 1e-12)


def svg_hbars(labels, values, colors, xlim, title: str = "", xlabel: str = "", vlines=(), width: int = 760,
              label_width: int = 270, bar_height: int = 20) -> str:
    """A horizontal bar chart as a small inline SVG (HTML text: it is written in microseconds and
    the browser shows it at once, where a matplotlib PNG takes tens of milliseconds to draw).

    One bar per (label, value, colour), top to bottom; ``xlim`` = (lo, hi) of the value axis,
    which gets about six ticks, a line at 0 and the ``xlabel`` below; ``vlines`` are (x, colour,
    dash pattern or "", legend text or "") lines over the bars, each text in a legend under the
    axis. Texts are HTML-escaped; a label too long for ``label_width`` is cut with "...", and each
    bar has a tooltip with its whole label and value."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(xlim[0]), float(xlim[1])
    top, left = (34 if title else 10), int(label_width)
    plot_w = width - left - 20
    legend = [v for v in vlines if v[3]]
    bottom = top + len(values) * bar_height
    height = bottom + 46 + 20 * bool(legend)

    def x(value):
        return left + (min(max(float(value), lo), hi) - lo) / (hi - lo) * plot_w

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{escape_html(title)}' class='mfteach-svg-bars' style='font-family:sans-serif; font-size:12px'>"]
    if title:
        parts.append(f"<text x='{left + plot_w / 2:.1f}' y='20' text-anchor='middle' font-size='13'>{escape_html(title)}</text>")
    for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi):
        if lo - 1e-9 <= t <= hi + 1e-9:
            parts.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top}' y2='{bottom + 4}' stroke='#dddddd'/>"
                         f"<text x='{x(t):.1f}' y='{bottom + 17}' text-anchor='middle'>{t:g}</text>")
    base = x(0.0)
    fits = max(int(left / 6.6), 4)  # characters of a label that fit left of the axis (12 px sans-serif)
    for k, (label, value, color) in enumerate(zip(labels, values, colors)):
        y = top + k * bar_height
        x0, x1 = sorted((base, x(value)))
        label = str(label)
        short = label if len(label) <= fits else label[:fits - 3] + "..."
        parts.append(f"<rect x='{x0:.1f}' y='{y + 3}' width='{x1 - x0:.1f}' height='{bar_height - 6}' fill='{color}'>"
                     f"<title>{escape_html(label)}: {float(value):.3g}</title></rect>"
                     f"<text x='{left - 6}' y='{y + bar_height / 2 + 4:.1f}' text-anchor='end'>{escape_html(short)}</text>")
    if lo <= 0 <= hi:
        parts.append(f"<line x1='{base:.1f}' x2='{base:.1f}' y1='{top}' y2='{bottom}' stroke='black' stroke-width='0.8'/>")
    for value, color, dash, _text in vlines:
        dashes = f" stroke-dasharray='{dash}'" if dash else ""
        parts.append(f"<line x1='{x(value):.1f}' x2='{x(value):.1f}' y1='{top}' y2='{bottom}' stroke='{color}' "
                     f"stroke-width='1.5'{dashes}/>")
    parts.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{bottom}' y2='{bottom}' stroke='black' stroke-width='0.8'/>")
    if xlabel:
        parts.append(f"<text x='{left + plot_w / 2:.1f}' y='{bottom + 34}' text-anchor='middle'>{escape_html(xlabel)}</text>")
    for k, (_value, color, dash, text) in enumerate(legend):
        y, x0 = bottom + 54, left + k * 260
        dashes = f" stroke-dasharray='{dash}'" if dash else ""
        parts.append(f"<line x1='{x0}' x2='{x0 + 24}' y1='{y - 4}' y2='{y - 4}' stroke='{color}' stroke-width='1.5'{dashes}/>"
                     f"<text x='{x0 + 30}' y='{y}'>{escape_html(text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


__all__ += ["nice_log_limits", "svg_hbars"]
