"""``nightowl eval``: the paper's Table 1 on fixed synthetic and photo test sets, with classical
baselines, each method told the true gain and told the server's estimate.

One module per concern: the test splits (``testset``), the methods compared (``methods``),
reading plates as strings with our recogniser (``reading``) and with Tesseract (``ocr``),
scoring a read against the truth (``scoring``), the run itself (``runner``, with the one PSNR,
SSIM and colour error of service/frames/quality.py), and the outputs (``report``, ``pictures``,
``publish``). Nothing here imports torch.
"""
