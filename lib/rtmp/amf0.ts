/**
 * AMF0 encoding and decoding (no I/O), as RTMP commands and data messages use
 * it, plus AMF3 values behind the AVM+ switch marker (0x11) that AMF3-wrapped
 * messages (types 15 and 17) carry.
 *
 * JavaScript mapping:
 *
 * | AMF0 type              | JS value                          |
 * | ---------------------- | --------------------------------- |
 * | number (0x00)          | `number`                          |
 * | boolean (0x01)         | `boolean`                         |
 * | string / long string   | `string` (long when > 65535 bytes)|
 * | object (0x03)          | plain object {@linkcode AmfObject}|
 * | null (0x05)            | `null`                            |
 * | undefined / unsupported| `undefined`                       |
 * | reference (0x07)       | the referenced value              |
 * | ECMA array (0x08)      | `Map<string, AmfValue>`           |
 * | strict array (0x0A)    | `AmfValue[]`                      |
 * | date (0x0B)            | `Date` (time zone dropped, 0 out) |
 * | XML document (0x0F)    | {@linkcode AmfXmlDocument}        |
 * | typed object (0x10)    | {@linkcode AmfTypedObject}        |
 * | AVM+ (0x11)            | the AMF3 value mapped likewise    |
 *
 * @module
 */
import { Amf3Reader } from "./amf3.ts";
import { RtmpProtocolError } from "./errors.ts";

/** An AMF object: string keys to values (insertion order kept). */
export interface AmfObject {
  /** A property. */
  [key: string]: AmfValue;
}

/** An AMF0 XML document (0x0F) or AMF3 XML value. */
export class AmfXmlDocument {
  /** The XML text. */
  readonly xml: string;
  /** Wraps XML text. */
  constructor(xml: string) {
    this.xml = xml;
  }
}

/** An AMF0 typed object (0x10) or AMF3 object with a class name. */
export class AmfTypedObject {
  /** The registered class name. */
  readonly className: string;
  /** The properties. */
  readonly properties: AmfObject;
  /** Wraps a class name and properties. */
  constructor(className: string, properties: AmfObject) {
    this.className = className;
    this.properties = properties;
  }
}

/** Any value AMF0 (or AMF3 via the switch marker) can carry. */
export type AmfValue =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | AmfValue[]
  | Map<string, AmfValue>
  | AmfObject
  | AmfTypedObject
  | AmfXmlDocument
  | Uint8Array;

/** AMF0 type markers. */
export const AMF0 = {
  NUMBER: 0x00,
  BOOLEAN: 0x01,
  STRING: 0x02,
  OBJECT: 0x03,
  MOVIECLIP: 0x04,
  NULL: 0x05,
  UNDEFINED: 0x06,
  REFERENCE: 0x07,
  ECMA_ARRAY: 0x08,
  OBJECT_END: 0x09,
  STRICT_ARRAY: 0x0a,
  DATE: 0x0b,
  LONG_STRING: 0x0c,
  UNSUPPORTED: 0x0d,
  RECORDSET: 0x0e,
  XML_DOCUMENT: 0x0f,
  TYPED_OBJECT: 0x10,
  AVMPLUS: 0x11,
} as const;

/** Deepest nesting of AMF values accepted (AMF0 and AMF3 levels). */
export const MAX_DEPTH = 64;
/** Strict UTF-8 decoder of AMF strings. */
export const utf8: TextDecoder = new TextDecoder("utf-8", { fatal: true });
const utf8Enc = new TextEncoder();

/** Throws the protocol error of malformed AMF. */
export function fail(msg: string): never {
  throw new RtmpProtocolError(`AMF: ${msg}`);
}

/** Reads AMF0 values one after another from a byte buffer. */
export class Amf0Reader {
  #b: Uint8Array;
  #v: DataView;
  #p = 0;
  #refs: AmfValue[] = [];

  /** Reads from `bytes` starting at `offset`. */
  constructor(bytes: Uint8Array, offset = 0) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#p = offset;
  }

  /** Position of the next unread byte. */
  get offset(): number {
    return this.#p;
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.#p >= this.#b.length;
  }

  #need(n: number, what: string): void {
    if (this.#p + n > this.#b.length) {
      fail(
        `expected ${n} bytes for ${what} at offset ${this.#p}, only ${
          this.#b.length - this.#p
        } left`,
      );
    }
  }

  #u8(): number {
    this.#need(1, "a byte");
    return this.#b[this.#p++];
  }

  #u16(): number {
    this.#need(2, "a u16");
    const v = this.#v.getUint16(this.#p);
    this.#p += 2;
    return v;
  }

  #u32(): number {
    this.#need(4, "a u32");
    const v = this.#v.getUint32(this.#p);
    this.#p += 4;
    return v;
  }

  #f64(): number {
    this.#need(8, "a number");
    const v = this.#v.getFloat64(this.#p);
    this.#p += 8;
    return v;
  }

  #str(len: number): string {
    this.#need(len, "a string");
    let s: string;
    try {
      s = utf8.decode(this.#b.subarray(this.#p, this.#p + len));
    } catch {
      fail(
        `expected UTF-8 string at offset ${this.#p}, received invalid bytes`,
      );
    }
    this.#p += len;
    return s;
  }

  /** Reads a u16-length string without a marker (an object key). */
  readKey(): string {
    return this.#str(this.#u16());
  }

  /**
   * Reads one value.
   *
   * @throws {RtmpProtocolError} On truncated input, an unknown or reserved
   *   marker, bad UTF-8, a bad reference or nesting deeper than 64.
   */
  read(): AmfValue {
    return this.#value(0);
  }

  /** Reads values until the end of the buffer. */
  readAll(): AmfValue[] {
    const out: AmfValue[] = [];
    while (!this.done) out.push(this.read());
    return out;
  }

  #props(target: AmfObject, depth: number, what: string): void {
    while (true) {
      this.#need(3, `${what} property or end marker`);
      if (
        this.#b[this.#p] === 0 && this.#b[this.#p + 1] === 0 &&
        this.#b[this.#p + 2] === AMF0.OBJECT_END
      ) {
        this.#p += 3;
        return;
      }
      const k = this.readKey();
      target[k] = this.#value(depth + 1);
    }
  }

  #value(depth: number): AmfValue {
    if (depth > MAX_DEPTH) fail(`expected nesting <= ${MAX_DEPTH}`);
    const at = this.#p;
    const marker = this.#u8();
    switch (marker) {
      case AMF0.NUMBER:
        return this.#f64();
      case AMF0.BOOLEAN:
        return this.#u8() !== 0;
      case AMF0.STRING:
        return this.#str(this.#u16());
      case AMF0.LONG_STRING:
        return this.#str(this.#u32());
      case AMF0.OBJECT: {
        const o: AmfObject = {};
        this.#refs.push(o);
        this.#props(o, depth, "object");
        return o;
      }
      case AMF0.NULL:
        return null;
      case AMF0.UNDEFINED:
      case AMF0.UNSUPPORTED:
        return undefined;
      case AMF0.REFERENCE: {
        const i = this.#u16();
        if (i >= this.#refs.length) {
          fail(
            `expected reference < ${this.#refs.length} at offset ${at}, received ${i}`,
          );
        }
        return this.#refs[i];
      }
      case AMF0.ECMA_ARRAY: {
        const count = this.#u32();
        const m = new Map<string, AmfValue>();
        this.#refs.push(m);
        while (true) {
          // Tolerate encoders that end the message without the end marker.
          if (this.done && m.size >= count) return m;
          this.#need(3, "ECMA array property or end marker");
          if (
            this.#b[this.#p] === 0 && this.#b[this.#p + 1] === 0 &&
            this.#b[this.#p + 2] === AMF0.OBJECT_END
          ) {
            this.#p += 3;
            return m;
          }
          const k = this.readKey();
          m.set(k, this.#value(depth + 1));
        }
      }
      case AMF0.STRICT_ARRAY: {
        const count = this.#u32();
        if (count > this.#b.length - this.#p) {
          fail(
            `strict array of ${count} values at offset ${at} exceeds the ${
              this.#b.length - this.#p
            } bytes left`,
          );
        }
        const a: AmfValue[] = [];
        this.#refs.push(a);
        for (let i = 0; i < count; i++) a.push(this.#value(depth + 1));
        return a;
      }
      case AMF0.DATE: {
        const ms = this.#f64();
        this.#u16(); // time zone: reserved, ignored
        return new Date(ms);
      }
      case AMF0.XML_DOCUMENT:
        return new AmfXmlDocument(this.#str(this.#u32()));
      case AMF0.TYPED_OBJECT: {
        const name = this.readKey();
        const props: AmfObject = {};
        const t = new AmfTypedObject(name, props);
        this.#refs.push(t);
        this.#props(props, depth, "typed object");
        return t;
      }
      case AMF0.AVMPLUS: {
        const r = new Amf3Reader(this.#b, this.#p, depth);
        const v = r.read();
        this.#p = r.offset;
        return v;
      }
      case AMF0.OBJECT_END:
        return fail(`unexpected object end marker at offset ${at}`);
      default:
        return fail(
          `expected an AMF0 type marker at offset ${at}, received 0x${
            marker.toString(16).padStart(2, "0")
          }`,
        );
    }
  }
}

/**
 * Decodes every AMF0 value in `bytes`.
 *
 * @throws {RtmpProtocolError} When the bytes are not a sequence of AMF0
 *   values.
 */
export function decodeAmf0(bytes: Uint8Array): AmfValue[] {
  return new Amf0Reader(bytes).readAll();
}

/** Builds AMF0 bytes in a growing buffer. */
class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.len, v);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  key(k: string): void {
    const b = utf8Enc.encode(k);
    if (b.length > 0xffff) {
      throw new RangeError(
        `AMF0 key: expected <= 65535 bytes, got ${b.length}`,
      );
    }
    this.u16(b.length);
    this.bytes(b);
  }
}

function writeProps(
  w: Writer,
  entries: Iterable<[string, AmfValue]>,
  d: number,
) {
  for (const [k, v] of entries) {
    w.key(k);
    writeValue(w, v, d + 1);
  }
  w.u16(0);
  w.u8(AMF0.OBJECT_END);
}

function writeValue(w: Writer, v: AmfValue, depth: number): void {
  if (depth > MAX_DEPTH) {
    throw new RangeError(`AMF0: expected nesting <= ${MAX_DEPTH}`);
  }
  if (v === null) return w.u8(AMF0.NULL);
  if (v === undefined) return w.u8(AMF0.UNDEFINED);
  switch (typeof v) {
    case "number":
      w.u8(AMF0.NUMBER);
      return w.f64(v);
    case "boolean":
      w.u8(AMF0.BOOLEAN);
      return w.u8(v ? 1 : 0);
    case "string": {
      const b = utf8Enc.encode(v);
      if (b.length > 0xffff) {
        w.u8(AMF0.LONG_STRING);
        w.u32(b.length);
      } else {
        w.u8(AMF0.STRING);
        w.u16(b.length);
      }
      return w.bytes(b);
    }
  }
  if (v instanceof Date) {
    w.u8(AMF0.DATE);
    w.f64(v.getTime());
    return w.u16(0);
  }
  if (Array.isArray(v)) {
    w.u8(AMF0.STRICT_ARRAY);
    w.u32(v.length);
    for (const x of v) writeValue(w, x, depth + 1);
    return;
  }
  if (v instanceof Map) {
    w.u8(AMF0.ECMA_ARRAY);
    w.u32(v.size);
    return writeProps(w, v.entries(), depth);
  }
  if (v instanceof AmfTypedObject) {
    w.u8(AMF0.TYPED_OBJECT);
    w.key(v.className);
    return writeProps(w, Object.entries(v.properties), depth);
  }
  if (v instanceof AmfXmlDocument) {
    const b = utf8Enc.encode(v.xml);
    w.u8(AMF0.XML_DOCUMENT);
    w.u32(b.length);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    throw new TypeError("AMF0: a byte array has no AMF0 encoding");
  }
  w.u8(AMF0.OBJECT);
  writeProps(w, Object.entries(v), depth);
}

/**
 * Encodes values as consecutive AMF0 values.
 *
 * @example Usage
 * ```ts
 * import { encodeAmf0 } from "./amf0.ts";
 * const bytes = encodeAmf0("_result", 1, null);
 * console.log(bytes[0]); // 2 (string marker)
 * ```
 * @throws {TypeError} For a `Uint8Array` (no AMF0 form).
 * @throws {RangeError} For an object key longer than 65535 bytes.
 */
export function encodeAmf0(...values: AmfValue[]): Uint8Array {
  const w = new Writer();
  for (const v of values) writeValue(w, v, 0);
  return w.buf.slice(0, w.len);
}
