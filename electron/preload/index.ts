import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNELS, JOB_EVENT_CHANNEL } from '../../shared/channels';

// Builds window.api from the channel list: one function per channel plus onJobEvent. Nothing else.
// A call takes its input and an envelope (`{ jobId }`: the page's name for the job it starts).
const api: Record<string, unknown> = {};
for (const channel of CHANNELS) api[channel] = (input: unknown, envelope?: unknown) => ipcRenderer.invoke(channel, input, envelope);
api.onJobEvent = (fn: (e: unknown) => void) => {
  const listener = (_e: IpcRendererEvent, ev: unknown) => fn(ev);
  ipcRenderer.on(JOB_EVENT_CHANNEL, listener);
  return () => ipcRenderer.removeListener(JOB_EVENT_CHANNEL, listener);
};
contextBridge.exposeInMainWorld('api', api);
