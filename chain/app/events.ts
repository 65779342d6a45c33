/** ABCI events emitted by the application, collected per transaction and per block. */
import type { Event } from "cosmjs-types/tendermint/abci/types";

export type Attributes = ReadonlyArray<readonly [key: string, value: string]>;

export class EventManager {
  private readonly list: Event[] = [];

  emit(type: string, attributes: Attributes): void {
    this.list.push({ type, attributes: attributes.map(([key, value]) => ({ key, value, index: true })) });
  }

  /**
   * A typed event (Cosmos `EmitTypedEvent`): the event type is the proto message's full
   * name and each attribute value is the proto3 JSON of its field.
   */
  emitTyped(typeName: string, json: Record<string, unknown>): void {
    const attrs: [string, string][] = Object.keys(json)
      .sort()
      .map((k) => [k, JSON.stringify(json[k])]);
    this.emit(typeName, attrs);
  }

  append(events: readonly Event[]): void {
    this.list.push(...events);
  }

  events(): Event[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  truncate(n: number): void {
    this.list.length = n;
  }
}
