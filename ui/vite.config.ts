/// <reference types="vitest/config" />
// The dashboard's build: React, Tailwind v4 through its Vite plugin, hashed
// assets under /assets (car-server serves them with a year-long cache).
// `npm run dev` serves it with the API of a local car-server (API_PORT 8000).
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: { alias: { "@": new URL("./src", import.meta.url).pathname } },
  server: { proxy: { "/api": { target: "http://127.0.0.1:8000", ws: true } } },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
