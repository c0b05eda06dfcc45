/**
 * The repair links as the rest of the edge sees them, through the
 * {@linkcode RepairPolicy}: the link facts the receiver core asks for, the
 * once-a-second policy step, a `KEYS` answer read off a link, and the
 * links' snapshots for `/metrics`.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { RtxClient } from "../quic/mod.ts";
import { type KeysAnswer, parseKeysAnswer, type RtcpApp } from "../rtcp/mod.ts";
import type { EdgeStreamInfo } from "./edge_api.ts";
import type { EdgeLinkSnapshot } from "./edge_metrics.ts";
import type { EdgeReceiver } from "./receiver.ts";
import type { EdgeReceiverOptions } from "./receiver_types.ts";
import type { RepairLinks } from "./repair_links.ts";
import type { RepairPolicy } from "./repair_policy.ts";

/** The receiver core's questions about the repair link of a source. */
export type ReceiverLinkHooks = Required<
  Pick<
    EdgeReceiverOptions,
    "onStream" | "linkRepair" | "streamStart" | "linkState"
  >
>;

/**
 * Answers the core from the links and the policy: a new stream opens its
 * link at once; the API reads the link's answer mode, copies and loss
 * rate; a new stream starts with its link's budget and round trip.
 */
export function receiverLinkHooks(
  links: RepairLinks,
  policy: RepairPolicy<RtxClient>,
): ReceiverLinkHooks {
  return {
    onStream: (_key, source) => {
      links.forSource(source);
    },
    linkRepair: (source) => {
      const link = links.forSource(source);
      return {
        mode: link.answerMode,
        copies: link.answerCopies,
        lossRate: policy.lossRate(link),
      };
    },
    streamStart: (source) => {
      const link = links.forSource(source);
      return {
        budgetMs: policy.budgetOf(link),
        rttMs: link.rttMs || undefined,
        basis: policy.budgetBasis(link),
      };
    },
    linkState: (source) => links.stateOf(source),
  };
}

/**
 * One policy step over the live streams: each link asks for the answer
 * copies its loss calls for and, with `latency_ms: auto`, the streams of a
 * link that has measured its round trip get its budget (and its basis).
 */
export function applyRepairPolicy(
  policy: RepairPolicy<RtxClient>,
  links: RepairLinks,
  rx: EdgeReceiver,
  streams: EdgeStreamInfo[],
): void {
  const plan = policy.sample(
    streams,
    (hostname, port) => links.forSource({ hostname, port }),
  );
  for (const { link, copies } of plan) link.setAnswerCopies(copies);
  if (policy.auto) {
    rx.setBudgets((source) => policy.budgetBasis(links.forSource(source)));
  }
}

/**
 * The keys a link's answer to `KEYS` for `ssrc` carries: `undefined` when
 * there is no usable answer (none, or malformed: logged), `null` when the
 * cloud has none for that SSRC.
 */
export function readKeysAnswer(
  app: RtcpApp | undefined,
  ssrc: number,
  log: Logger,
): KeysAnswer | null | undefined {
  try {
    return app ? parseKeysAnswer(app) : undefined;
  } catch (e) {
    log.warn("malformed KEYS answer", { ssrc, error: e });
    return undefined;
  }
}

/** Every link's state and counters for `/metrics`. */
export function linkSnapshots(links: RepairLinks): EdgeLinkSnapshot[] {
  return links.entries().map(([cloud, c]) => ({
    cloud,
    connected: c.connected,
    lastError: c.lastError,
    stats: c.stats,
  }));
}
