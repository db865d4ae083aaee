"""{{name}}: a settlement-rule plugin in Python. For each category it bills the contract's
rate (its category rate, else its default rate) on what was sold less what was refunded,
rounded half up to the fen. Replace the arithmetic with your contract's. Money stays an
int of fen, never a float."""

from wit_world import exports
from wit_world.imports.types import BillLine


def apply(basis, rate_bp):
    """`basis * rate_bp / 10000`, halves away from zero."""
    product = basis * rate_bp
    half = 5000 if product >= 0 else -5000
    q = abs(product + half) // 10000
    return q if product + half >= 0 else -q


class Rules(exports.Rules):
    def compute_lines(self, contract, input):
        lines = []
        for c in input.categories:
            rate_bp = next((r.rate_bp for r in contract.rates if r.category == c.category), contract.default_rate_bp)
            basis = c.sales_fen - c.refunds_fen
            lines.append(
                BillLine(kind="category", category=c.category, basis_fen=basis, rate_bp=rate_bp, amount_fen=apply(basis, rate_bp), note=None)
            )
        return lines
