// Staff accounts for the tests, made the way an admin makes them: with the CLI,
// the password on stdin (never an argument).
import { spawn } from 'node:child_process';
import { bin, root } from './server.mjs';

// Runs `frontdesk user add NAME --role ROLE --display DISPLAY --db DB` with the
// password as one line of stdin. Resolves { stdout, stderr }; rejects on a
// non-zero exit with the command's stderr in the message.
export async function addUser(db, name, role, password, display = name) {
  const args = ['user', 'add', name, '--role', role, '--display', display, '--db', db];
  const proc = spawn(bin, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`frontdesk user add ${name}: exit ${code ?? sig}: ${stderr.trim()}`));
    });
  });
  proc.stdin.end(password + '\n');
  return done;
}
