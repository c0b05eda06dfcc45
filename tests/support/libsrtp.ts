/**
 * libsrtp2 (Cisco's reference SRTP library, Debian `libsrtp2-1`) through
 * Deno FFI, for interop tests: a real, independent SRTP stack that protects
 * and unprotects with AES_CM_128_HMAC_SHA1_80.
 *
 * The default crypto policy (`srtp_crypto_policy_set_rtp_default`) is
 * AES_CM_128_HMAC_SHA1_80. `srtp_policy_t` layout (x86_64/aarch64 LP64, libsrtp 2.x `srtp.h`):
 * ssrc {type u32, value u32} at 0; rtp crypto policy (6 × i32) at 8; rtcp
 * at 32; key pointer at 56; keys 64; num_master_keys 72; deprecated_ekt 80;
 * window_size 88; allow_repeat_tx 96; enc_xtn_hdr 104; enc_xtn_hdr_count
 * 112; next 120; size 128.
 *
 * @module
 */

const SYMBOLS = {
  srtp_init: { parameters: [], result: "i32" },
  srtp_crypto_policy_set_rtp_default: {
    parameters: ["buffer"],
    result: "void",
  },
  srtp_create: { parameters: ["buffer", "buffer"], result: "i32" },
  srtp_dealloc: { parameters: ["pointer"], result: "i32" },
  srtp_protect: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  srtp_unprotect: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  srtp_protect_rtcp: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  srtp_unprotect_rtcp: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;
let lib: Lib | undefined;

/** Where libsrtp2 is looked for. */
export const LIBSRTP_PATH = "libsrtp2.so.1";

/**
 * Opens libsrtp2 once, or says why it cannot.
 *
 * @returns The reason it is unavailable, or undefined when it is loaded.
 */
export function libsrtpUnavailable(): string | undefined {
  if (lib) return undefined;
  try {
    lib = Deno.dlopen(LIBSRTP_PATH, SYMBOLS);
  } catch (e) {
    return `cannot load ${LIBSRTP_PATH} (apt-get install libsrtp2-1): ${
      (e as Error).message
    }`;
  }
  const rc = lib.symbols.srtp_init();
  if (rc !== 0) return `srtp_init failed: ${rc}`;
  return undefined;
}

/** libsrtp's `srtp_ssrc_type_t`. */
const SSRC_SPECIFIC = 1;
const SSRC_ANY_INBOUND = 2;
const SSRC_ANY_OUTBOUND = 3;

/** Options for {@linkcode LibSrtpSession}. */
export interface LibSrtpOptions {
  /** 16-byte master key. */
  masterKey: Uint8Array;
  /** 14-byte master salt. */
  masterSalt: Uint8Array;
  /** `inbound` unprotects, `outbound` protects. */
  direction: "inbound" | "outbound";
  /** A specific SSRC; default any. */
  ssrc?: number;
  /** Replay window; default libsrtp's 128. */
  windowSize?: number;
}

/** One libsrtp session (`srtp_t`) with one policy. */
export class LibSrtpSession {
  #ctx: Deno.PointerValue;
  #key: Uint8Array; // kept alive: libsrtp copies it, but be safe

  /**
   * @param opts Keys, direction, SSRC, window.
   * @throws {Error} When libsrtp is unavailable or refuses the policy.
   */
  constructor(opts: LibSrtpOptions) {
    const why = libsrtpUnavailable();
    if (why) throw new Error(why);
    const policy = new Uint8Array(128);
    const v = new DataView(policy.buffer);
    v.setUint32(
      0,
      opts.ssrc !== undefined
        ? SSRC_SPECIFIC
        : opts.direction === "inbound"
        ? SSRC_ANY_INBOUND
        : SSRC_ANY_OUTBOUND,
      true,
    );
    v.setUint32(4, opts.ssrc ?? 0, true);
    lib!.symbols.srtp_crypto_policy_set_rtp_default(
      policy.subarray(8),
    );
    lib!.symbols.srtp_crypto_policy_set_rtp_default(
      policy.subarray(32),
    );
    this.#key = new Uint8Array(30);
    this.#key.set(opts.masterKey, 0);
    this.#key.set(opts.masterSalt, 16);
    const keyPtr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#key));
    v.setBigUint64(56, BigInt(keyPtr), true);
    v.setBigUint64(88, BigInt(opts.windowSize ?? 128), true);
    const out = new BigUint64Array(1);
    const rc = lib!.symbols.srtp_create(new Uint8Array(out.buffer), policy);
    if (rc !== 0) throw new Error(`srtp_create failed: error ${rc}`);
    this.#ctx = Deno.UnsafePointer.create(out[0]);
  }

  #call(
    fn:
      | "srtp_protect"
      | "srtp_unprotect"
      | "srtp_protect_rtcp"
      | "srtp_unprotect_rtcp",
    packet: Uint8Array,
  ): Uint8Array | number {
    const buf = new Uint8Array(packet.length + 64);
    buf.set(packet);
    const len = new Int32Array([packet.length]);
    const rc = lib!.symbols[fn](
      this.#ctx,
      buf,
      new Uint8Array(len.buffer),
    );
    return rc === 0 ? buf.slice(0, len[0]) : rc;
  }

  /** SRTP of an RTP packet, or libsrtp's error code. */
  protect(packet: Uint8Array): Uint8Array | number {
    return this.#call("srtp_protect", packet);
  }

  /** RTP of an SRTP packet, or libsrtp's error code (7 auth, 9/10 replay). */
  unprotect(packet: Uint8Array): Uint8Array | number {
    return this.#call("srtp_unprotect", packet);
  }

  /** SRTCP of an RTCP packet, or libsrtp's error code. */
  protectRtcp(packet: Uint8Array): Uint8Array | number {
    return this.#call("srtp_protect_rtcp", packet);
  }

  /** RTCP of an SRTCP packet, or libsrtp's error code. */
  unprotectRtcp(packet: Uint8Array): Uint8Array | number {
    return this.#call("srtp_unprotect_rtcp", packet);
  }

  /** Frees the session. */
  close(): void {
    if (this.#ctx) lib!.symbols.srtp_dealloc(this.#ctx);
    this.#ctx = null;
  }
}
