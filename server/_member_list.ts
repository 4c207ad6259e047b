/**
 * The hub's membership lists: an array with each member's place kept on the
 * member, so that adding and removing are O(1) and a broadcast iterates the
 * array itself.
 *
 * Why not a `Set`: a `Set` entry costs about 130 B of heap on Bun (33 B on
 * Deno) against about 10 B for an array slot plus 8 B for the place, and the
 * hub keeps two lists per connection (everyone, and its room), each with an
 * array snapshot for broadcasts on top.
 *
 * @module
 */

/** Where a member sits in one list: read and written by the list only. */
export interface Places<T> {
  get(member: T): number;
  set(member: T, place: number): void;
}

/**
 * An unordered list of distinct members. {@linkcode MemberList.snapshot}
 * hands out the array itself; the next change copies it first (copy on
 * write), so a snapshot never changes under a loop that holds it, even when
 * the loop's own work removes members.
 *
 * @example
 * ```ts
 * import { MemberList } from "./_member_list.ts";
 * const places = new WeakMap<object, number>();
 * const list = new MemberList<object>({
 *   get: (m) => places.get(m) ?? -1,
 *   set: (m, place) => places.set(m, place),
 * });
 * const a = {}, b = {};
 * list.add(a);
 * list.add(b);
 * const before = list.snapshot();
 * list.delete(a);
 * before.length; // 2: the snapshot is unchanged
 * list.snapshot().length; // 1
 * ```
 */
export class MemberList<T> {
  /**
   * The native fan-out topic this list's members are subscribed to, once the
   * hub subscribed them (at the list's first native publish); kept here so
   * a broadcast finds its list and its topic with one lookup.
   */
  topic: string | undefined = undefined;
  /**
   * Bytes the hub may still publish to this list's topic without checking
   * each member again: reserved from every member's budget by the last
   * broadcast that checked them all (see `ServerConnection.reserve`), and
   * 0 again as soon as a member joins (it reserved nothing). A member that
   * leaves takes nothing from the others, so leaving keeps it.
   */
  unchecked = 0;
  #items: T[] = [];
  /** Whether `#items` was handed out by `snapshot()` since the last change. */
  #shared = false;
  readonly #places: Places<T>;

  constructor(places: Places<T>) {
    this.#places = places;
  }

  /** How many members. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether the member is in this list. */
  has(member: T): boolean {
    const place = this.#places.get(member);
    // -1 (in no list) would be a property lookup on the array, not an index.
    return place >= 0 && this.#items[place] === member;
  }

  /** Adds a member; `false` if it was in the list already. */
  add(member: T): boolean {
    if (this.has(member)) return false;
    this.unchecked = 0;
    const items = this.#writable();
    this.#places.set(member, items.length);
    items.push(member);
    return true;
  }

  /** Removes a member (the last one takes its place); `false` if it was not in the list. */
  delete(member: T): boolean {
    const place = this.#places.get(member);
    if (place < 0 || this.#items[place] !== member) return false;
    const items = this.#writable();
    const last = items.pop()!;
    if (last !== member) {
      items[place] = last;
      this.#places.set(last, place);
    }
    this.#places.set(member, -1);
    return true;
  }

  /** The members now; the array does not change afterwards. Callers must not modify it. */
  snapshot(): readonly T[] {
    this.#shared = true;
    return this.#items;
  }

  #writable(): T[] {
    if (this.#shared) {
      this.#items = this.#items.slice();
      this.#shared = false;
    }
    return this.#items;
  }
}
