"""`kehu score clv [--full] [--model bgnbd|pareto] [--json]`: fit and score the book now (a
subcommand of `kehu score`, registered through kehu.core.score_commands)."""

from __future__ import annotations

import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.score_commands import ScoreCommand


def _add_arguments(parser) -> None:
    parser.add_argument("--full", action="store_true",
                        help="refit the model even when the last fit is recent")
    parser.add_argument("--model", choices=["bgnbd", "pareto"], default="",
                        help="the transaction model (default: the configured one, bgnbd)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _run(command, options: dict) -> None:
    from kehu.prediction.models import ModelFit
    from kehu.prediction.services import clv_score

    quiet = options["json"]

    def progress(message: str) -> None:
        if not quiet:
            command.stderr.write(f"… {message}")

    try:
        fit = clv_score(actor=Actor.system(via="cli"), full=options["full"],
                        model=options["model"], progress=progress)
    except DomainError as exc:
        raise CommandError(str(exc.message)) from None
    figures = {"fit": fit.pk, "model": fit.model, "status": fit.status,
               "message": fit.message, "refitted": fit.refitted, "scored": fit.scored,
               "changed": fit.changed, "params": fit.params,
               "log_likelihood": fit.log_likelihood, "gamma_gamma": fit.gamma_gamma,
               "holdout_correlation": fit.holdout_correlation,
               "duration_ms": fit.duration_ms}
    if quiet:
        command.stdout.write(json.dumps(figures, ensure_ascii=False))
    elif fit.status != ModelFit.FITTED:
        command.stdout.write(fit.message)
    else:
        command.stdout.write(_(
            "%(model)s: %(scored)d customers scored, %(changed)d rows changed in %(seconds).1f s"
            " (%(how)s)") % {"model": fit.get_model_display(), "scored": fit.scored,
                             "changed": fit.changed, "seconds": fit.duration_ms / 1000,
                             "how": _("refitted") if fit.refitted else _("recent fit reused")})
        if fit.holdout_correlation is not None:
            command.stdout.write(_("Holdout correlation (predicted vs actual purchases): "
                                   "%(c).3f") % {"c": fit.holdout_correlation})
    if fit.status == ModelFit.FAILED:
        raise CommandError(fit.message)


clv_score_command = ScoreCommand(
    name="clv", help="fit the customer-base model and score P(alive), expected purchases and "
    "12-month CLV", add_arguments=_add_arguments, run=_run)
