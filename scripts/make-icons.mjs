// Renders build/icon.svg into every icon file the installers use, with Chromium (Playwright):
// build/icon.png (1024), build/icons/NxN.png (Linux), build/icon.ico (Windows: PNG entries),
// build/icon.icns (macOS: PNG entries). Run after changing the SVG: node scripts/make-icons.mjs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const root = path.resolve(import.meta.dirname, '..');
const svg = readFileSync(path.join(root, 'build/icon.svg'), 'utf8');
const SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
const page = await browser.newPage();
const png = {};
for (const n of SIZES) {
  await page.setViewportSize({ width: n, height: n });
  await page.setContent(`<html><body style="margin:0;background:transparent"><img width="${n}" height="${n}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}"></body></html>`);
  png[n] = await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: n, height: n } });
}
await browser.close();

mkdirSync(path.join(root, 'build/icons'), { recursive: true });
writeFileSync(path.join(root, 'build/icon.png'), png[1024]);
for (const n of [16, 24, 32, 48, 64, 128, 256, 512]) writeFileSync(path.join(root, `build/icons/${n}x${n}.png`), png[n]);

// ICO: a directory of PNG images (Windows Vista and later read PNG entries).
const icoSizes = [16, 24, 32, 48, 64, 128, 256];
const head = Buffer.alloc(6 + 16 * icoSizes.length);
head.writeUInt16LE(0, 0);
head.writeUInt16LE(1, 2);
head.writeUInt16LE(icoSizes.length, 4);
let offset = head.length;
icoSizes.forEach((n, i) => {
  const e = 6 + 16 * i;
  head.writeUInt8(n === 256 ? 0 : n, e);
  head.writeUInt8(n === 256 ? 0 : n, e + 1);
  head.writeUInt16LE(1, e + 4); // planes
  head.writeUInt16LE(32, e + 6); // bits per pixel
  head.writeUInt32LE(png[n].length, e + 8);
  head.writeUInt32LE(offset, e + 12);
  offset += png[n].length;
});
writeFileSync(path.join(root, 'build/icon.ico'), Buffer.concat([head, ...icoSizes.map((n) => png[n])]));

// ICNS: typed PNG chunks (icp4 16, icp5 32, icp6 64, ic07 128, ic08 256, ic09 512, ic10 1024).
const icns = [['icp4', 16], ['icp5', 32], ['icp6', 64], ['ic07', 128], ['ic08', 256], ['ic09', 512], ['ic10', 1024]].map(([type, n]) => {
  const h = Buffer.alloc(8);
  h.write(type, 0, 'ascii');
  h.writeUInt32BE(8 + png[n].length, 4);
  return Buffer.concat([h, png[n]]);
});
const body = Buffer.concat(icns);
const icnsHead = Buffer.alloc(8);
icnsHead.write('icns', 0, 'ascii');
icnsHead.writeUInt32BE(8 + body.length, 4);
writeFileSync(path.join(root, 'build/icon.icns'), Buffer.concat([icnsHead, body]));
process.stdout.write(`icons written from build/icon.svg: ${SIZES.join(', ')} px\n`);
