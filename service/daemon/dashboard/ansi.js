// Step output with ANSI colours as HTML, through Debian's ansi_up (made an
// ES module at build time). ansi_up escapes the text (& < > " '); what it
// would put in style="" attributes, which the Content-Security-Policy
// forbids, becomes classes (bold, italic, underline, the 16 colours) and,
// for 256-colour and true-colour codes, data-fg/data-bg attributes that
// paintRgb() applies through the CSSOM, which the policy allows.
import AnsiUp from './ansi_up.js';

export function makeConverter() {
  const au = new AnsiUp();
  au.use_classes = true;
  au.url_whitelist = {http: 1, https: 1};
  au.transform_to_html = function (fragment) {
    let txt = fragment.text;
    if (txt.length === 0) return txt;
    txt = this.escape_txt_for_html(txt);
    const classes = [];
    const data = [];
    if (fragment.bold) classes.push('ansi-bold');
    if (fragment.italic) classes.push('ansi-italic');
    if (fragment.underline) classes.push('ansi-underline');
    for (const [color, which] of [[fragment.fg, 'fg'], [fragment.bg, 'bg']]) {
      if (!color) continue;
      if (color.class_name !== 'truecolor') {
        classes.push(`${color.class_name}-${which}`);
      } else {
        // Three numbers from ansi_up's parser (0-255 each): safe in an attribute.
        data.push(` data-${which}="${color.rgb.map((n) => n | 0).join(',')}"`);
        classes.push(`ansi-rgb-${which}`);
      }
    }
    if (!classes.length && !data.length) return txt;
    return `<span class="${classes.join(' ')}"${data.join('')}>${txt}</span>`;
  };
  return au;
}

// Applies data-fg/data-bg (see above) below `root`.
export function paintRgb(root) {
  for (const el of root.querySelectorAll('.ansi-rgb-fg, .ansi-rgb-bg')) {
    if (el.dataset.fg) el.style.color = `rgb(${el.dataset.fg})`;
    if (el.dataset.bg) el.style.backgroundColor = `rgb(${el.dataset.bg})`;
  }
}
