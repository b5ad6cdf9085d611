// The theme before the first paint (a file, not inline: the page's
// Content-Security-Policy runs scripts of this origin only): the user's
// choice, else the system's.
const theme = localStorage.getItem("theme");
if (theme === "dark" || (!theme && matchMedia("(prefers-color-scheme: dark)").matches))
  document.documentElement.classList.add("dark");
