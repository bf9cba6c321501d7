// The attacker of attack.test.ts: runs as nobody (setpriv) inside the trial's mount namespace,
// read from stdin so that it needs no access to the checkout. It plants and swaps in the tree
// while the job under test runs, until T/run/done appears or its iterations run out; then it
// writes how many links it planted to T/run/swaps.
//   node - MODE T
// Every symlink it makes names T/victim (or a path below it) only.
import { existsSync, mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';

const [mode, T] = process.argv.slice(2);
const tree = `${T}/tree`;
const victim = `${T}/victim`;
// its markers are in T/run (the only place besides the tree that it may write)
const done = () => existsSync(`${T}/run/done`);
let swaps = 0;
const quiet = (f) => {
  try {
    f();
  } catch {
    /* the race goes on */
  }
};

/** swap `dir` for a symlink to `target` and back, over and over */
function flip(dir, target, rounds) {
  const aside = `${dir}.aside`;
  for (let i = 0; i < rounds && !done(); i++) {
    quiet(() => renameSync(dir, aside));
    quiet(() => {
      symlinkSync(target, dir);
      swaps++;
    });
    for (let k = 0; k < 50; k++) if (done()) break;
    quiet(() => unlinkSync(dir));
    quiet(() => renameSync(aside, dir));
  }
}

switch (mode) {
  case 'leftovers': {
    // 1. a staging leftover full of names; as its removal starts, its subdirectory becomes a link
    const d = `${tree}/.qgrey-rebuild.1.1/d`;
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < 2000; i++) writeFileSync(`${d}/f${i}`, '');
    writeFileSync(`${T}/run/planted`, '');
    for (let i = 0; i < 2_000_000 && !done(); i++) {
      if (!existsSync(`${d}/f0`)) {
        quiet(() => renameSync(d, `${d}.aside`));
        quiet(() => {
          symlinkSync(victim, d);
          swaps++;
        });
        break;
      }
    }
    break;
  }
  case 'swap-top':
    // 2. rebuild's swap and 3. its prune: a top-level directory becomes a link to the victim
    writeFileSync(`${T}/run/planted`, '');
    flip(`${tree}/203`, victim, 100000);
    break;
  case 'swap-leaf':
    // 4. clean and evict: a leaf directory becomes a link to a victim directory of old files
    writeFileSync(`${T}/run/planted`, '');
    flip(`${tree}/203/000`, `${victim}/000`, 100000);
    break;
  case 'swap-mid':
    writeFileSync(`${T}/run/planted`, '');
    flip(`${tree}/203`, victim, 100000);
    break;
  case 'none':
    writeFileSync(`${T}/run/planted`, '');
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
writeFileSync(`${T}/run/swaps`, String(swaps));
