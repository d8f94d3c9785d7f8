/** The chat box's styles, inside its shadow root (the host page's styles do not reach in). */
export const STYLE = `
:host { all: initial; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; }
:host([data-layout="floating"]) { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; }
:host([data-layout="page"]) { display: block; height: 100%; }
* { box-sizing: border-box; }
.launcher { border: 0; border-radius: 24px; padding: 12px 18px; background: #2456d6; color: #fff; font: inherit; font-weight: 600; cursor: pointer; box-shadow: 0 4px 14px rgb(0 0 0 / 20%); }
.panel { display: flex; flex-direction: column; background: #fff; overflow: hidden; }
:host([data-layout="floating"]) .panel { width: min(360px, calc(100vw - 40px)); height: min(520px, calc(100vh - 100px)); margin-bottom: 12px; border-radius: 12px; box-shadow: 0 8px 30px rgb(0 0 0 / 25%); }
:host([data-layout="page"]) .panel { height: 100%; max-width: 720px; margin: 0 auto; }
.panel[hidden] { display: none; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 8px; padding: 12px 16px; background: #2456d6; color: #fff; }
header strong { font-size: 16px; }
.status { font-size: 12px; opacity: 0.9; }
.log { flex: 1; margin: 0; padding: 12px; list-style: none; overflow-y: auto; display: flex; flex-direction: column; gap: 8px; background: #f5f7fb; }
.log li { max-width: 80%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
.customer { align-self: flex-end; background: #2456d6; color: #fff; border-bottom-right-radius: 4px; }
.customer.pending { opacity: 0.6; }
.customer.failed { background: #b3261e; }
.bot, .staff { align-self: flex-start; background: #fff; border: 1px solid #dde2ec; border-bottom-left-radius: 4px; }
.from { display: block; font-size: 11px; color: #5b6475; }
.typing { align-self: flex-start; display: flex; gap: 4px; padding: 12px 14px; margin: 0 12px 8px; border-radius: 14px; background: #fff; border: 1px solid #dde2ec; width: max-content; }
.typing[hidden] { display: none; }
.typing span { width: 7px; height: 7px; border-radius: 50%; background: #7b8496; animation: blink 1.2s infinite ease-in-out; }
.typing span:nth-child(2) { animation-delay: 0.2s; }
.typing span:nth-child(3) { animation-delay: 0.4s; }
@keyframes blink { 0%, 80%, 100% { opacity: 0.25; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .typing span { animation: none; } }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #dde2ec; background: #fff; }
textarea { flex: 1; resize: none; min-height: 40px; max-height: 120px; padding: 9px 10px; border: 1px solid #b9c0cf; border-radius: 8px; font: inherit; }
textarea:focus-visible, button:focus-visible { outline: 2px solid #2456d6; outline-offset: 2px; }
form button { border: 0; border-radius: 8px; padding: 0 16px; background: #2456d6; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
form button:disabled { background: #9aa3b5; cursor: default; }
.retry { margin-left: 6px; border: 0; background: none; color: inherit; text-decoration: underline; font: inherit; cursor: pointer; }
`;
