/*
 * Shared by the edit dialogs of node-red-contrib-live-audio: each node's .html loads it with
 * <script src="resources/node-red-contrib-live-audio/editor.js"> (Node-RED serves a module's
 * resources/ folder there) before registering its type.
 */
// eslint-disable-next-line no-var
var liveAudioEditor =
  typeof liveAudioEditor !== 'undefined'
    ? liveAudioEditor
    : {
        /**
         * A validator for a number from min to max (whole if `integer`), built on
         * RED.validators.number; blank is fine where the runtime has a default (`blankOk`).
         * It returns the reason as text, from the node's catalog (`type`), which Node-RED >= 3
         * shows beside the field.
         */
        range: function (type, min, max, integer, blankOk) {
          var isNumber = RED.validators.number(blankOk);
          return function (v, opt) {
            if (blankOk && (v === '' || v === undefined)) return true;
            var n = Number(v);
            if (isNumber(v) === true && isFinite(n) && n >= min && n <= max && (!integer || n % 1 === 0)) return true;
            var key = 'shared.' + (integer ? 'integer' : 'number') + (opt && opt.label ? 'Prop' : '');
            return RED._('node-red-contrib-live-audio/' + type + ':' + key, { prop: opt && opt.label, min: min, max: max });
          };
        },
      };
