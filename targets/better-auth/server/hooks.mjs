// Test-only hooks of the conform test server. They exist only here, never in
// a deployment: what HTTP cannot do.
//
// - clock: a frozen clock. `Date.now()` and `new Date()` (no arguments)
//   return the time of the command being run, so better-auth computes
//   expiries, sliding refreshes and key expiry at authproof's `at`.
const RealDate = globalThis.Date;
let now = RealDate.now();
class FrozenDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(now);
    else super(...args);
  }
  static now() {
    return now;
  }
}
globalThis.Date = FrozenDate;
export const clock = {
  set(ms) {
    if (Number.isFinite(ms)) now = ms;
  },
  get: () => now,
};
