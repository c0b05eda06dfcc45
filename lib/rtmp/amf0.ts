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

const MAX_DEPTH = 64;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Enc = new TextEncoder();

function fail(msg: string): never {
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
 * Reads one AMF3 value (the subset clients send: undefined, null, booleans,
 * integer, double, string, XML, date, array, object with sealed and dynamic
 * members, byte array). Externalizable objects, vectors and dictionaries are
 * refused.
 */
export class Amf3Reader {
  #b: Uint8Array;
  #v: DataView;
  #p: number;
  #depth0: number;
  #strings: string[] = [];
  #objects: AmfValue[] = [];
  #traits: { name: string; dynamic: boolean; members: string[] }[] = [];

  /** Reads from `bytes` at `offset`; `depth` counts enclosing AMF0 levels. */
  constructor(bytes: Uint8Array, offset = 0, depth = 0) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#p = offset;
    this.#depth0 = depth;
  }

  /** Position of the next unread byte. */
  get offset(): number {
    return this.#p;
  }

  /** Reads one AMF3 value. @throws {RtmpProtocolError} On bad input. */
  read(): AmfValue {
    return this.#value(this.#depth0);
  }

  #need(n: number): void {
    if (this.#p + n > this.#b.length) {
      fail(`AMF3: expected ${n} more bytes at offset ${this.#p}`);
    }
  }

  #u29(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      this.#need(1);
      const b = this.#b[this.#p++];
      if (i === 3) return (v << 8) | b;
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) return v;
    }
    return v;
  }

  #string(): string {
    const h = this.#u29();
    if (!(h & 1)) {
      const i = h >> 1;
      if (i >= this.#strings.length) fail(`AMF3: bad string reference ${i}`);
      return this.#strings[i];
    }
    const len = h >> 1;
    this.#need(len);
    let s: string;
    try {
      s = utf8.decode(this.#b.subarray(this.#p, this.#p + len));
    } catch {
      fail(`AMF3: expected UTF-8 string at offset ${this.#p}`);
    }
    this.#p += len;
    if (len > 0) this.#strings.push(s);
    return s;
  }

  #value(depth: number): AmfValue {
    if (depth > MAX_DEPTH) fail(`expected nesting <= ${MAX_DEPTH}`);
    this.#need(1);
    const at = this.#p;
    const marker = this.#b[this.#p++];
    switch (marker) {
      case 0x00:
        return undefined;
      case 0x01:
        return null;
      case 0x02:
        return false;
      case 0x03:
        return true;
      case 0x04: {
        const v = this.#u29();
        return v & 0x10000000 ? v - 0x20000000 : v;
      }
      case 0x05: {
        this.#need(8);
        const v = this.#v.getFloat64(this.#p);
        this.#p += 8;
        return v;
      }
      case 0x06:
        return this.#string();
      case 0x07:
      case 0x0b: {
        const h = this.#u29();
        if (!(h & 1)) return this.#ref(h >> 1);
        const len = h >> 1;
        this.#need(len);
        const x = new AmfXmlDocument(
          new TextDecoder().decode(this.#b.subarray(this.#p, this.#p + len)),
        );
        this.#p += len;
        this.#objects.push(x);
        return x;
      }
      case 0x08: {
        const h = this.#u29();
        if (!(h & 1)) return this.#ref(h >> 1);
        this.#need(8);
        const d = new Date(this.#v.getFloat64(this.#p));
        this.#p += 8;
        this.#objects.push(d);
        return d;
      }
      case 0x09: {
        const h = this.#u29();
        if (!(h & 1)) return this.#ref(h >> 1);
        const dense = h >> 1;
        if (dense > this.#b.length - this.#p) {
          fail(`AMF3: array of ${dense} exceeds the bytes left`);
        }
        const assoc = new Map<string, AmfValue>();
        const slot = this.#objects.length;
        this.#objects.push(undefined);
        for (let k = this.#string(); k !== ""; k = this.#string()) {
          assoc.set(k, this.#value(depth + 1));
        }
        const items: AmfValue[] = [];
        for (let i = 0; i < dense; i++) items.push(this.#value(depth + 1));
        if (assoc.size === 0) {
          this.#objects[slot] = items;
          return items;
        }
        items.forEach((v, i) => assoc.set(String(i), v));
        this.#objects[slot] = assoc;
        return assoc;
      }
      case 0x0a: {
        const h = this.#u29();
        if (!(h & 1)) return this.#ref(h >> 1);
        let traits;
        if (!(h & 2)) {
          const i = h >> 2;
          if (i >= this.#traits.length) fail(`AMF3: bad traits reference ${i}`);
          traits = this.#traits[i];
        } else {
          if (h & 4) fail(`AMF3: externalizable object at offset ${at}`);
          const name = this.#string();
          const count = h >> 4;
          if (count > this.#b.length - this.#p) {
            fail(`AMF3: ${count} sealed members exceed the bytes left`);
          }
          const members: string[] = [];
          for (let i = 0; i < count; i++) members.push(this.#string());
          traits = { name, dynamic: !!(h & 8), members };
          this.#traits.push(traits);
        }
        const props: AmfObject = {};
        const value: AmfValue = traits.name
          ? new AmfTypedObject(traits.name, props)
          : props;
        this.#objects.push(value);
        for (const m of traits.members) props[m] = this.#value(depth + 1);
        if (traits.dynamic) {
          for (let k = this.#string(); k !== ""; k = this.#string()) {
            props[k] = this.#value(depth + 1);
          }
        }
        return value;
      }
      case 0x0c: {
        const h = this.#u29();
        if (!(h & 1)) return this.#ref(h >> 1);
        const len = h >> 1;
        this.#need(len);
        const b = this.#b.slice(this.#p, this.#p + len);
        this.#p += len;
        this.#objects.push(b);
        return b;
      }
      default:
        return fail(
          `AMF3: unsupported type marker 0x${
            marker.toString(16).padStart(2, "0")
          } at offset ${at}`,
        );
    }
  }

  #ref(i: number): AmfValue {
    if (i >= this.#objects.length) fail(`AMF3: bad object reference ${i}`);
    return this.#objects[i];
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
