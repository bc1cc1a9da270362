// Plain JavaScript on purpose: it must run on any Node.js to tell a newcomer on an old one what to do,
// instead of the stack trace an old Node prints when it meets a .ts file.
const [major, minor] = process.versions.node.split('.').map(Number);
export const NODE_OK = major > 22 || (major === 22 && minor >= 18);
export function requireNode() {
  if (NODE_OK) return;
  process.stderr.write(
    `greenloop needs Node.js 22.18 or newer (24 LTS recommended); this is ${process.version} at ${process.execPath}.\n` +
      'It runs its TypeScript sources directly, which older Node.js versions cannot do.\n' +
      'Install Node 24 (nvm install 24, fnm install 24, or: npm install --prefix ~/.node24 node@24 && export PATH=~/.node24/node_modules/.bin:$PATH)\n' +
      'and run the command again.\n',
  );
  process.exit(1);
}
if (import.meta.url === `file://${process.argv[1]}`) requireNode();
