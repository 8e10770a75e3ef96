// The embeddable build (dist/embed.js): only <assembly-floor>, for other sites to include.
import "./floor";
