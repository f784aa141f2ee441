import time

from django.core.management.base import BaseCommand, CommandError

from warehouse.ledger import verify_ledger


class Command(BaseCommand):
    help = "Replay every unit movement and prove unit states and product counters match the ledger."

    def handle(self, *args, **options):
        started = time.perf_counter()
        report = verify_ledger()
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{report.movements} movements, {report.units} units, {report.products} products "
            f"checked in {seconds:.1f} s"
        )
        if not report.ok:
            for line in report.problems:
                self.stderr.write(f"  {line}")
            raise CommandError(f"The ledger disagrees in {len(report.problems)} place(s).")
        self.stdout.write(self.style.SUCCESS("Ledger verified: every unit and counter agrees."))
