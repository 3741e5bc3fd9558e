/** Verbs about this computer: its interfaces and the rights Bootchain uses. */
import path from 'node:path';
import { usage, verb } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

export const privileges = verb({
  name: 'privileges',
  usage: ['privileges', 'privileges grant ports|tap'],
  summary:
    'the rights beyond an ordinary user\'s that Bootchain uses, whether this process has them and why (exit 1 when one is missing); `grant`: the one-time grant (see "Privileges"), through pkexec, or directly when run as root.',
  flags: [
    { name: 'tap', value: 'NAME', help: 'the tap device of the VM test boot (default bctap0)', field: 'tap' },
    { name: 'bridge', value: 'BR', help: 'the LAN bridge the tap device joins', field: 'bridge' },
    { name: 'exe', value: 'PATH', help: 'the binary that gets cap_net_bind_service (default: this node)' },
  ],
  async run(a) {
    const [sub, what, ...rest] = a.pos;
    const exe = a.str('exe');
    const s = new Session({ exe: exe ? path.resolve(exe) : undefined });
    const bridge = a.str('bridge');
    const where = { tap: a.str('tap') ?? 'bctap0', ...(bridge ? { bridge } : {}) };
    let st;
    if (sub === 'grant') {
      if ((what !== 'ports' && what !== 'tap') || rest.length > 0) throw usage('privileges grant takes "ports" or "tap"');
      st = await s.call('privileges:grant', { id: what === 'ports' ? 'low-ports' : 'tap', ...where });
    } else if (sub !== undefined) throw usage('privileges takes nothing, or "grant ports|tap"');
    else st = await s.call('privileges:status', where);
    if (a.json) printJson(st);
    else
      for (const i of st.items) {
        print(`${i.granted ? 'granted' : 'missing'}  ${i.title}: ${i.evidence}`);
        if (!i.granted) print(`         needed for ${i.neededFor}\n         grant once: ${i.commands[0]}`);
      }
    return st.items.every((i) => i.granted) ? 0 : 1;
  },
});

export const interfaces = verb({
  name: 'interfaces',
  usage: ['interfaces'],
  summary: "this machine's interfaces and IPv4 subnets",
  flags: [],
  async run(a) {
    if (a.pos.length > 0) throw usage('interfaces takes nothing');
    const list = await new Session().call('net:interfaces', {});
    if (a.json) printJson(list);
    else for (const i of list) for (const x of i.subnets) print(`${i.name}\t${x.address}\t${x.cidr}`);
    return 0;
  },
});
