/**
 * AMF3 values behind the AVM+ switch marker (0x11) of AMF0, as AMF3-wrapped
 * RTMP messages (types 15 and 17) carry them; mapped to the same JS values
 * as AMF0 ({@linkcode AmfValue}). No I/O.
 *
 * @module
 */
import {
  type AmfObject,
  AmfTypedObject,
  type AmfValue,
  AmfXmlDocument,
  fail,
  MAX_DEPTH,
  utf8,
} from "./amf0.ts";

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
