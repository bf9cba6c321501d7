// One shape for every command file: the options yargs parses (inferred from the builder) are
// turned into the action's own typed arguments by the handler. A subcommand's --help does not
// list --version (only `qgrey --version` prints it).
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

/** A list of commands of different option types, as yargs' .command() takes it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandModule<any, any>;

export interface Command<U> {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<U>;
  handler: (argv: ArgumentsCamelCase<U>) => Promise<void>;
}

// Two methods yargs has and its type definitions leave out.
declare module 'yargs' {
  interface Argv<T> {
    getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> };
    getInternalMethods(): { getContext(): { commands: string[] } };
  }
}

/** The command being parsed (the last whose builder ran), for src/cli.ts's usage messages. */
export const current = {
  /** e.g. ['whitelist', 'add'] */
  path: [] as string[],
  /** e.g. 'add <addresses..>' */
  usage: '',
  /** its long and short option names, aliases included */
  options: [] as string[],
};

export function defineCommand<U>(c: Command<U>): CommandModule<object, U> {
  return {
    command: c.command,
    describe: c.describe,
    builder: (y: Argv) => {
      const b = c.builder(y.version(false));
      current.path = [...b.getInternalMethods().getContext().commands];
      current.usage = c.command;
      const o = b.getOptions();
      current.options = [...new Set([...Object.keys(o.key), ...Object.values(o.alias).flat()])];
      return b;
    },
    handler: c.handler,
  };
}

/**
 * The options of a value: one value per use (`--exclude A --exclude B`), taken even when it
 * starts with '-' (`--max-age -5d` is then refused by the action, quoting it).
 */
export const value = { type: 'string', nargs: 1 } as const;
