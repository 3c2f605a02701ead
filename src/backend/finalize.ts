/**
 * FinalizationRegistry with synchronous cleanup where V8 offers it.
 *
 * Training loops are long synchronous stretches during which ordinary finalizers never run (they
 * are queued as tasks for the event loop). V8's FinalizationRegistry.prototype.cleanupSome
 * (behind the flag --harmony-weak-refs-with-cleanup-some, present in Node 20) runs the pending
 * finalizers on demand; the flag is set at run time and takes effect in a fresh vm context, whose
 * FinalizationRegistry is used. Where that fails the registry is a plain one and `sync` is false.
 */
import { setFlagsFromString } from 'node:v8';
import { createContext, runInContext } from 'node:vm';

export interface Registry<T> {
  register(target: object, held: T): void;
  /** Forget `target` (its finalizer will not run); false when it was not registered. */
  unregister(target: object): boolean;
  /** Run the finalizers of targets collected so far (no-op unless `sync`). */
  cleanup(): void;
  /** Whether cleanup() runs finalizers synchronously. */
  sync: boolean;
  /** A full garbage collection, where one was asked for and can be had. */
  gc: (() => void) | null;
}

let syncCtor: FinalizationRegistryConstructor | null | undefined;
let exposedGc: (() => void) | null | undefined;

function syncRegistryCtor(): FinalizationRegistryConstructor | null {
  if (syncCtor !== undefined) return syncCtor;
  syncCtor = null;
  try {
    setFlagsFromString('--harmony-weak-refs-with-cleanup-some');
    const C = runInContext('FinalizationRegistry', createContext({})) as FinalizationRegistryConstructor;
    if (typeof (C.prototype as { cleanupSome?: unknown }).cleanupSome === 'function') syncCtor = C;
  } catch { /* plain registries only */ }
  return syncCtor;
}

function gcFunction(): (() => void) | null {
  if (exposedGc !== undefined) return exposedGc;
  exposedGc = null;
  try {
    setFlagsFromString('--expose-gc');
    const g = runInContext('typeof gc === "function" ? gc : null', createContext({})) as (() => void) | null;
    if (typeof g === 'function') exposedGc = g;
  } catch { /* none */ }
  return exposedGc;
}

/**
 * A registry calling onFree(held) once `target` has been collected.
 * @param opts.sync ask for synchronous cleanup (default true); opts.gc also expose a full GC.
 */
export function makeRegistry<T>(onFree: (held: T) => void, opts: { sync?: boolean; gc?: boolean } = {}): Registry<T> {
  const Ctor = opts.sync === false ? null : syncRegistryCtor();
  const reg = new (Ctor ?? FinalizationRegistry)<T>(onFree);
  const cleanupSome = (reg as unknown as { cleanupSome?: () => void }).cleanupSome;
  const sync = cleanupSome !== undefined;
  return {
    register: (o, held) => reg.register(o, held, o),
    unregister: (o) => reg.unregister(o),
    cleanup: sync ? () => cleanupSome.call(reg) : () => {},
    sync,
    gc: sync && opts.gc ? gcFunction() : null,
  };
}
