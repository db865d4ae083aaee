// {{name}}: a settlement-rule plugin in JavaScript. For each category it bills the
// contract's rate (its category rate, else its default rate) on what was sold less what
// was refunded, rounded half up to the fen. Replace the arithmetic with your contract's.
//
// Money (s64 fen) is a BigInt: keep it one, never a float.

/** `basis * rateBp / 10000`, halves away from zero. */
function apply(basis, rateBp) {
  const product = basis * BigInt(rateBp);
  const half = product >= 0n ? 5000n : -5000n;
  return (product + half) / 10000n;
}

export const rules = {
  computeLines(contract, input) {
    return input.categories.map((c) => {
      const rate = contract.rates.find((r) => r.category === c.category);
      const rateBp = rate ? rate.rateBp : contract.defaultRateBp;
      const basis = c.salesFen - c.refundsFen;
      return { kind: 'category', category: c.category, basisFen: basis, rateBp, amountFen: apply(basis, rateBp), note: undefined };
    });
  },
};
