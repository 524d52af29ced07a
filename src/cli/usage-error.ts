/** A command line that cannot be run as given; main() prints it as one line and exits 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}
