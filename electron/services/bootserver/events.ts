/**
 * What the running boot servers do, for whoever follows along in the same process (the live
 * watch joins the serve job's TFTP, HTTP, proxyDHCP and marker events to its timeline), and
 * where they listen (a watch whose markers go to a serving HTTP port reads them here instead of
 * binding the port a second time).
 */
import { EventEmitter } from 'node:events';
import type { ServeEvent } from '../../../shared/bootserver';

/** Every event of every running boot server. */
export const bootEvents = new EventEmitter<{ event: [ServeEvent] }>();
bootEvents.setMaxListeners(64);

/** A running boot server: its address and ports. */
export interface Serving {
  address: string;
  tftpPort: number;
  httpPort: number;
  proxyDhcp: boolean;
}

const running = new Set<Serving>();

/** Registers a running server until the returned function is called. */
export function registerServing(s: Serving): () => void {
  running.add(s);
  return () => running.delete(s);
}

/** The running boot servers now. */
export const servingNow = (): Serving[] => [...running];
