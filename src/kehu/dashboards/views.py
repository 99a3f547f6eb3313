"""Board pages: the index of the boards a user may open, and one board for a period."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from kehu.dashboards.boards import boards_for, build_board, get_board
from kehu.dashboards.periods import PERIODS, PeriodError, named_period, parse_period


@login_required
@require_GET
def index(request):
    boards = boards_for(request.user)
    if len(boards) == 1:
        return redirect("dashboards:board", key=boards[0].key)
    return render(request, "dashboards/index.html", {"boards": boards})


@login_required
@require_GET
def board(request, key: str):
    found = get_board(key)
    if found is None or not found.visible_to(request.user):
        # Same answer for "no such board" and "not yours": a board's name is not a secret,
        # but its existence for another role need not be confirmed either.
        raise Http404
    error = ""
    try:
        period = parse_period(request.GET, default=found.default_period)
    except PeriodError as exc:
        error = str(exc)
        period = named_period(found.default_period)
    data = build_board(found, user=request.user, period=period, params=request.GET)
    context = {"board": found, "boards": boards_for(request.user), "data": data,
               "period": period, "periods": PERIODS, "period_error": error}
    # `embed=1`: the board's body alone, for another page to load into itself (htmx).
    template = "dashboards/_board_embed.html" if request.GET.get("embed") == "1" else found.template
    return render(request, template, context, status=400 if error else 200)
