"""`kehu clv fit --transactions FILE --calibration-end YYYY-MM-DD [--model bgnbd|pareto]
[--json]`: fit the customer-base model on a file of `customer_id date amount` (CSV or
whitespace-separated, the CDNOW files too) and validate it on what follows the calibration
end. With --json the last line is the figures as one JSON object."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.prediction import btyd
from kehu.prediction.fitting import fit_transactions
from kehu.prediction.transactions_file import TransactionsFileError, parse_date, read_transactions


class Command(BaseCommand):
    help = "Customer-base models on a transactions file: `fit` (BG/NBD or Pareto/NBD, Gamma-Gamma)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        fit = sub.add_parser("fit", help="fit a transactions file and validate on its holdout")
        fit.add_argument("--transactions", required=True, metavar="FILE",
                         help="customer_id date amount per line (CSV or whitespace)")
        fit.add_argument("--calibration-end", required=True, metavar="YYYY-MM-DD",
                         help="last day of the calibration period (inclusive)")
        fit.add_argument("--model", choices=["bgnbd", "pareto"], default="bgnbd")
        fit.add_argument("--json", action="store_true",
                         help="print the figures as JSON on the last line")

    def handle(self, *args, **options):
        end = parse_date(options["calibration_end"])
        if end is None:
            raise CommandError(_("--calibration-end: %(v)r is not a date (YYYY-MM-DD).")
                               % {"v": options["calibration_end"]})
        try:
            data = read_transactions(options["transactions"])
        except TransactionsFileError as exc:
            raise CommandError(f"{options['transactions']}: {exc}") from None
        try:
            report = fit_transactions(data.customer_ids, data.days, data.amounts,
                                      calibration_end=btyd.day_number(end),
                                      model=options["model"])
        except btyd.FitError as exc:
            raise CommandError(_("Cannot fit: %(e)s") % {"e": exc}) from None
        if report.summary.x.shape[0] == 0:
            raise CommandError(_("No customer bought on or before %(d)s.") % {"d": end})
        self._human(report, data, end)
        if options["json"]:
            self.stdout.write(json.dumps(report.contract()))

    def _human(self, report, data, end) -> None:
        s = report.summary
        w = self.stdout.write
        w(_("%(n)d transactions, %(c)d customers who bought by %(d)s, %(r)d of them more than "
            "once; time unit: weeks") % {"n": len(data), "c": len(s), "d": end,
                                        "r": int((s.x > 0).sum())})
        model = report.model
        name = "BG/NBD" if model.name == "bgnbd" else "Pareto/NBD"
        params = ", ".join(f"{k}={v:.4f}" for k, v in model.params().items())
        w(f"{name}: {params}; log-likelihood {model.log_likelihood:.2f}")
        if report.gamma_gamma is not None:
            gg = report.gamma_gamma
            w(_("Gamma-Gamma (%(n)d repeat buyers): p=%(p).4f, q=%(q).4f, γ=%(v).4f") % {
                "n": gg.n, "p": gg.p, "q": gg.q, "v": gg.v})
        else:
            w(_("Gamma-Gamma: not fitted (%(e)s)") % {"e": report.gamma_gamma_error})
        h = report.holdout
        if h is None:
            w(_("No transactions after the calibration end: no holdout validation."))
        else:
            w(_("Holdout (%(weeks).1f weeks): predicted %(p).1f vs actual %(a).0f repeat "
                "transactions (aggregate error %(e)+.1f%%), per-customer correlation %(c).3f")
              % {"weeks": h.length, "p": h.predicted_total, "a": h.actual_total,
                 "e": 100 * h.aggregate_error, "c": h.correlation})
        w(_("Fitted in %(s).2f s") % {"s": report.seconds})
