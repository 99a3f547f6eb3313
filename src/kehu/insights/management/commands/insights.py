"""`kehu insights fit|score|signals|recommend [--json]`: the nightly insights jobs on demand."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.insights import services


class Command(BaseCommand):
    help = ("Insights. `fit` trains the churn model on this company's history (backtest "
            "against RFM) and rescores; `score` rescores churn risk; `signals` detects "
            "purchase signals; `recommend` rebuilds product associations.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        for name, text in (("fit", "fit the churn model and rescore"),
                           ("score", "rescore churn risk with the last fit"),
                           ("signals", "detect purchase signals"),
                           ("recommend", "rebuild co-purchase associations")):
            command = sub.add_parser(name, help=text)
            command.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options):
        actor = Actor.system(via="cli")
        what = options["what"]
        try:
            if what == "fit":
                fit = services.churn_fit(actor=actor)
                figures = {"fit": fit.pk, "model": fit.model_kind, "enough_data": fit.enough_data,
                           "labelled": fit.labelled, "churned": fit.churned,
                           "message": fit.explanation(), **fit.metrics}
            elif what == "score":
                figures = services.churn_score(actor=actor)
            elif what == "signals":
                figures = services.signals_detect(actor=actor)
            else:
                figures = services.recommendations_build(actor=actor)
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False))
            return
        if what == "fit" and not figures["enough_data"]:
            self.stdout.write(figures["message"])
            return
        if what == "fit":
            self.stdout.write(_("AUC %(auc)s (RFM baseline %(base)s), precision in the top 10%% "
                                "%(top)s (baseline %(btop)s) on %(n)s held-out customers") % {
                "auc": _fmt(figures.get("auc")), "base": _fmt(figures.get("baseline_auc")),
                "top": _fmt(figures.get("precision_top_decile")),
                "btop": _fmt(figures.get("baseline_precision_top_decile")),
                "n": figures.get("test_size")})
            return
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in figures.items()))


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"
