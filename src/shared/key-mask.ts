// Keys kept out of text that leaves the program: error messages, log lines, terminal output.
// Shared by the server and the command line; pure, with no imports.

// Anything shaped like a key, whole or cut short, keeps only its prefix.
const KEY_LIKE = /svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{6,}/g;

/** Hides keys in text that goes to a client or a log (an error quoting input, a logged URL). */
export const maskKeys = (text: string): string => text.replace(KEY_LIKE, (key) => `${key.slice(0, 12)}_…`);
