// Stylesheets are bundled by esbuild next to the script; importing one has no value in code.
declare module '*.css';
