import { equal, ok } from "node:assert/strict";
import {
  answerCopies,
  autoBudget,
  LossEstimator,
  repairRounds,
} from "../lib/edge/repair_policy.ts";

Deno.test("repairRounds: requests whose answers fit the budget", () => {
  // 400 ms budget, 100 ms RTT, 20 ms grace: asks at 20 and 170 ms (answers by 120, 270); 320 + 100 > 400.
  equal(repairRounds({ rttMs: 100, budgetMs: 400, graceMs: 20 }), 2);
  equal(repairRounds({ rttMs: 100, budgetMs: 200, graceMs: 20 }), 1);
  equal(repairRounds({ rttMs: 200, budgetMs: 600, graceMs: 20 }), 2);
  equal(
    repairRounds({ rttMs: 300, budgetMs: 200, graceMs: 20 }),
    1,
    "hopeless: still one try",
  );
  equal(repairRounds({ rttMs: 1, budgetMs: 200, graceMs: 20 }), 8, "capped");
  equal(
    repairRounds({ rttMs: 0, budgetMs: 400, graceMs: 20 }),
    1,
    "not measured: one",
  );
});

Deno.test("answerCopies: grows with loss and round trip, never below 1 or above the cap", () => {
  equal(
    answerCopies({ lossRate: 0, rttMs: 100, budgetMs: 400, graceMs: 20 }),
    1,
  );
  equal(
    answerCopies({ lossRate: 0.05, rttMs: 1, budgetMs: 200, graceMs: 20 }),
    1,
  );
  equal(
    answerCopies({ lossRate: 0.05, rttMs: 100, budgetMs: 400, graceMs: 20 }),
    3,
  );
  equal(
    answerCopies({ lossRate: 0.2, rttMs: 100, budgetMs: 400, graceMs: 20 }),
    5,
  );
  equal(
    answerCopies({ lossRate: 0.2, rttMs: 100, budgetMs: 520, graceMs: 20 }),
    3,
    "auto budget at 20 %: three rounds",
  );
  equal(
    answerCopies({ lossRate: 0.3, rttMs: 200, budgetMs: 600, graceMs: 20 }),
    6,
  );
  equal(
    answerCopies({ lossRate: 0.2, rttMs: 100, budgetMs: 200, graceMs: 20 }),
    6,
  );
  equal(
    answerCopies({ lossRate: 0.9, rttMs: 100, budgetMs: 200, graceMs: 20 }),
    6,
  );
  equal(
    answerCopies({
      lossRate: 0.9,
      rttMs: 100,
      budgetMs: 200,
      graceMs: 20,
      maxCopies: 3,
    }),
    3,
  );
  // The residual after every round is below the target.
  for (const p of [0.01, 0.05, 0.1, 0.2, 0.3]) {
    const i = { lossRate: p, rttMs: 100, budgetMs: 400, graceMs: 20 };
    const k = answerCopies(i);
    ok(p ** (k * repairRounds(i)) <= 1e-6 * (1 + 1e-9), `p ${p}: k ${k}`);
  }
});

Deno.test("LossEstimator: the first sample replaces the prior; more loss is believed at once, less gradually", () => {
  const e = new LossEstimator({ initial: 0.05, minPackets: 100, gain: 0.5 });
  equal(e.rate, 0.05);
  equal(e.measured, false);
  equal(e.update(10, 40), 0.05, "50 packets: not yet a sample");
  equal(e.update(15, 35), 0.25, "25 lost of 100 in all: the first sample");
  ok(e.measured);
  equal(e.update(25, 175), 0.1875, "0.125: halfway down");
  equal(e.update(50, 50), 0.5, "0.5: at once");
  equal(e.update(0, 100), 0.25);
  equal(
    e.update(-5, -5),
    0.25,
    "negative deltas (counter resets) count as none",
  );
});

Deno.test("autoBudget: 4 × RTT (5 × above 15 % loss) + grace, 120 ms .. 5 s", () => {
  equal(autoBudget({ rttMs: 100, lossRate: 0.05 }), 420);
  equal(autoBudget({ rttMs: 100, lossRate: 0.2 }), 520);
  equal(autoBudget({ rttMs: 200, lossRate: 0.3 }), 1020);
  equal(autoBudget({ rttMs: 0.5, lossRate: 0 }), 120);
  equal(autoBudget({ rttMs: 2000, lossRate: 0.5 }), 5000);
  equal(autoBudget({ rttMs: 101, lossRate: 0 }), 430, "rounded up to 10 ms");
});
