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
    """Show ``error`` in ``out`` (in one update): its type and message in a red line, the
    traceback folded below, as ipywidgets' ``interact`` shows the errors of its function."""
    import traceback

    from IPython.display import HTML

    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    show_outputs(out, HTML(
        f"<div class='mfteach-error' style='color:#a50000'><b>{escape_html(type(error).__name__)}</b>: "
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
