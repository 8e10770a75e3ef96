// hls.js ships its light build without a types entry; it is the same API.
declare module "hls.js/light" {
  import Hls from "hls.js";
  export default Hls;
}
