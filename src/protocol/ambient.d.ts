// The only globals the pure protocol layer may use; both Node >= 20 and browsers provide them.
// Declared minimally so that `Buffer`, `window` and friends stay compile errors here.

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
