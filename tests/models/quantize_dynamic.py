"""Writes kws_lstm_ts_op13_dq.onnx: kws_lstm_ts_op13.onnx quantized by
onnxruntime's quantize_dynamic (int8 weights): ConvInteger and
MatMulInteger behind DynamicQuantizeLinear, and the LSTM as onnxruntime's
com.microsoft DynamicQuantizeLSTM.

Usage: python tests/models/quantize_dynamic.py   (onnx and onnxruntime only)
"""

import pathlib

from onnxruntime.quantization import QuantType, quantize_dynamic

MODELS = pathlib.Path(__file__).resolve().parent

if __name__ == "__main__":
    quantize_dynamic(
        str(MODELS / "kws_lstm_ts_op13.onnx"), str(MODELS / "kws_lstm_ts_op13_dq.onnx"), weight_type=QuantType.QInt8
    )
