"""Attribution methods (ISM, integrated gradients, DeepLIFT/SHAP, saliency). No UI imports."""
